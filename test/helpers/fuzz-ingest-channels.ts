/**
 * Channels for fuzzing the ingest API: the scope of the fuzz key, names in and out of it and invalid
 * ones, and the ways a name can be written into a path. Also the limits the fuzzed process runs with.
 */
import fc from "fast-check";

/**
 * Limits the functions process runs with while fuzzed: smaller than the defaults so that bodies at
 * and past every limit stay cheap to send and to store (FerretDB scans cost what the bus weighs).
 */
export const FUZZ_LIMITS = Object.freeze({
  maxBodyBytes: 64 * 1024,
  maxMessageBytes: 8 * 1024,
  maxBatch: 20,
});

export function fuzzLimitsEnv(): Record<string, string> {
  return {
    TAILCAST_MAX_BODY_BYTES: String(FUZZ_LIMITS.maxBodyBytes),
    TAILCAST_MAX_MESSAGE_BYTES: String(FUZZ_LIMITS.maxMessageBytes),
    TAILCAST_MAX_BATCH: String(FUZZ_LIMITS.maxBatch),
  };
}

/** Exact names and a prefix the fuzz key may publish to; everything else must be refused. */
export const FUZZ_SCOPE = ["fz:*", "ok", "__proto__", "constructor", "prototype", "a.b", "toString"];
/** In scope and picked often, so a subscriber can watch them all. */
export const WATCHED_CHANNELS = ["fz:sio", "__proto__", "constructor", "prototype", "a.b", "toString", "ok"];

export const utf8 = (s: string) => new TextEncoder().encode(s);

export const inScopeChannel = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WATCHED_CHANNELS) },
  { weight: 4, arbitrary: fc.stringMatching(/^fz:[A-Za-z0-9_:.@=+-]{1,24}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 120, max: 126 }).map((n) => `fz:${"a".repeat(n)}`) },
);
const outOfScopeChannel = fc.constantFrom("chat", "other:x", "fz", "fz:", "valueOf", "_", "Fz:a", "FZ:a");
const invalidChannel = fc.oneof(
  fc.constantFrom(
    "$where",
    "fz:$where",
    "*",
    "fz:*",
    "",
    "fz:a b",
    ".hidden",
    "-x",
    "fz:é",
    "😀",
    "\u0000",
    "fz:a/b",
    "fz:\n",
    "\ud800",
  ),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.integer({ min: 126, max: 3000 }).map((n) => `fz:${"a".repeat(n)}`),
);
export const channelName = fc.oneof(
  { weight: 10, arbitrary: inScopeChannel },
  { weight: 2, arbitrary: outOfScopeChannel },
  { weight: 3, arbitrary: invalidChannel },
);

function percentAll(s: string): string {
  return [...utf8(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
}
function encodeSegment(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return percentAll(s); // lone surrogates: encodeURIComponent throws, bytes of U+FFFD go instead
  }
}

const RAW_SEGMENTS = [
  "..%2F..",
  "%00",
  "%",
  "%zz",
  "%E0%A4%A",
  "%2e%2e",
  "..",
  ".",
  "a%2Fb",
  "fz:a\\b",
  "%5C",
  "fz:a%252F",
  "fz%253Aa",
  "%C0%AF",
  "%ED%A0%80",
  "%FF",
  "fz:%F0%9F%98%80",
  "__proto__%00",
];

/** A channel as a path segment: usually well encoded, sometimes raw, over- or double-encoded. */
export const channelSegment = fc.oneof(
  { weight: 12, arbitrary: channelName.map(encodeSegment) },
  { weight: 1, arbitrary: channelName.map(percentAll) },
  { weight: 1, arbitrary: channelName.map((c) => encodeSegment(encodeSegment(c))) },
  {
    weight: 1,
    arbitrary: channelName.filter((c) => /^[\x21-\x7e]*$/.test(c) && !/[?#%]/.test(c)),
  },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
);

/** Idempotency keys from a small pool, so that keys are reused (replays and conflicts). */
export const idempotencyPool = fc.integer({ min: 0, max: 39 }).map((i) => `fz-idem-${i}`);
