/**
 * Publisher API keys. Keys travel as `Authorization: Bearer <key>`; configuration holds only their
 * SHA-256, so a leaked config or log line cannot be replayed. A fast hash (not a password hash) is
 * right here because keys are 256-bit random strings: there is nothing to brute-force.
 *
 * Config: TAILCAST_API_KEYS (JSON) or TAILCAST_API_KEYS_FILE (path to the same JSON):
 * `[{ "id": "billing", "sha256": "<64 hex>", "channels": ["orders:*"], "ratePerSecond": 50, "burst": 100 }]`.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { configError, type Env, readEnv } from "../env.ts";
import { ErrorCode, TailcastError } from "../errors.ts";
import type { Rate } from "../rate-limit.ts";
import { bearerToken } from "./bearer.ts";
import { type ChannelMatcher, compilePatterns, patternProblem } from "./channel-patterns.ts";

export { authorizeChannel } from "./channel-patterns.ts";

/** Reads a file named by a `*_FILE` variable; injectable so parsing stays testable without I/O. */
export type ReadText = (path: string) => string;
export const readTextFile: ReadText = (path) => readFileSync(path, "utf8");

/** The same shape shared/rate-limit.ts takes, so `publisher.rate` can be passed straight to it. */
export type RateLimit = Rate;

/** One configured key, as validated from the environment. */
export interface ApiKeyConfig {
  /** Non-secret name: appears in logs and scopes idempotency keys per publisher. */
  id: string;
  /** Lowercase hex SHA-256 of the key. */
  sha256: string;
  channels: string[];
  rate?: RateLimit;
}

/** Who is publishing, once their key is verified. */
export interface Publisher {
  id: string;
  channels: ChannelMatcher;
  rate?: RateLimit;
}

export interface KeyVerifier {
  /** Throws `unauthorized` for a missing, malformed or unknown key. */
  verify(authorizationHeader: string | undefined): Publisher;
  /** Configured key ids, for a startup log line. */
  readonly ids: readonly string[];
}

export const API_KEY_PREFIX = "tc_";

// An id ends up in log lines and idempotency keys: keep it to a charset that needs no escaping.
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SHA256_RE = /^[0-9a-fA-F]{64}$/;
// Far above any key we generate; stops a client from making us hash megabytes per request.
const MAX_KEY_LENGTH = 512;

const keySchema = z
  .strictObject({
    id: z.string().regex(ID_RE, {
      error: "must be 1-64 characters: letters, digits, _ . - (starting with a letter or digit)",
    }),
    sha256: z.string().regex(SHA256_RE, {
      error: "must be the 64 hex digit SHA-256 of the key (npm run keys -- hash <key>), never the key",
    }),
    channels: z
      .array(
        z.string().superRefine((p, ctx) => {
          const problem = patternProblem(p);
          if (problem !== undefined) ctx.addIssue({ code: "custom", message: `channel pattern ${problem}` });
        }),
      )
      .min(1, { error: "must list at least one channel pattern" }),
    ratePerSecond: z.number().positive().max(1_000_000).optional(),
    burst: z.number().int().min(1).max(1_000_000).optional(),
  })
  .refine((k) => k.burst === undefined || k.ratePerSecond !== undefined, {
    error: "burst needs ratePerSecond",
    path: ["burst"],
  });

const keysSchema = z
  .array(keySchema)
  .min(1, { error: "must list at least one key" })
  .superRefine((keys, ctx) => {
    const ids = new Set<string>();
    const hashes = new Set<string>();
    for (const [i, k] of keys.entries()) {
      if (ids.has(k.id)) ctx.addIssue({ code: "custom", path: [i, "id"], message: "duplicate id" });
      const hash = k.sha256.toLowerCase();
      // One key under two ids would make the publisher identity ambiguous.
      if (hashes.has(hash)) ctx.addIssue({ code: "custom", path: [i, "sha256"], message: "duplicate key" });
      ids.add(k.id);
      hashes.add(hash);
    }
  });

/** Validates key config JSON text; `source` names where it came from in error messages. */
export function parseApiKeys(json: string, source = "TAILCAST_API_KEYS"): ApiKeyConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    // The JSON parser's message quotes the input, which may hold a key pasted by mistake: omit it.
    throw configError(source, "not valid JSON (expected an array of { id, sha256, channels }).");
  }
  const result = keysSchema.safeParse(raw);
  if (!result.success) {
    // Inside the JSON, the path to the entry and field is what a reader needs: `TAILCAST_API_KEYS[0].sha256`.
    const problems = result.error.issues.map((i) => {
      const path = i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
      return `${source}${path}: ${i.message}`;
    });
    throw configError(null, problems.join("; "));
  }
  return result.data.map((k) => {
    const entry: ApiKeyConfig = { id: k.id, sha256: k.sha256.toLowerCase(), channels: k.channels };
    if (k.ratePerSecond !== undefined) {
      // Without an explicit burst, allow one second's worth at once.
      entry.rate = { perSecond: k.ratePerSecond, burst: k.burst ?? Math.max(1, Math.ceil(k.ratePerSecond)) };
    }
    return entry;
  });
}

const keysEnvSchema = z
  .object({
    TAILCAST_API_KEYS: z.string().trim().optional(),
    TAILCAST_API_KEYS_FILE: z.string().trim().optional(),
  })
  .refine((e) => e.TAILCAST_API_KEYS === undefined || e.TAILCAST_API_KEYS_FILE === undefined, {
    error: "set TAILCAST_API_KEYS or TAILCAST_API_KEYS_FILE, not both.",
  });

/**
 * Key config from the environment, or undefined when neither variable is set (the caller decides
 * whether that is allowed: see mode.ts).
 */
export function loadApiKeys(env: Env, readText: ReadText = readTextFile): ApiKeyConfig[] | undefined {
  const { TAILCAST_API_KEYS: inline, TAILCAST_API_KEYS_FILE: file } = readEnv(keysEnvSchema, env);
  if (inline !== undefined) return parseApiKeys(inline, "TAILCAST_API_KEYS");
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readText(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw configError("TAILCAST_API_KEYS_FILE", `cannot read ${JSON.stringify(file)} (${reason}).`, err);
  }
  return parseApiKeys(text, "TAILCAST_API_KEYS_FILE");
}

/** A new key: `tc_` + 32 random bytes, base64url. Show it once; store only `hashApiKey(key)`. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString("base64url");
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

function unauthorized(message: string): TailcastError {
  return new TailcastError(ErrorCode.unauthorized, message);
}

/** The key in `Authorization: Bearer <key>` (see bearer.ts). */
function bearerKey(header: string | undefined): string {
  if (header === undefined || header.trim() === "") {
    throw unauthorized("Missing API key: send `Authorization: Bearer <key>`.");
  }
  const key = bearerToken(header);
  if (key === undefined) throw unauthorized("Malformed Authorization header: expected `Bearer <key>`.");
  return key;
}

export function createKeyVerifier(keys: readonly ApiKeyConfig[]): KeyVerifier {
  const entries = keys.map((k) => {
    const publisher: Publisher = { id: k.id, channels: compilePatterns(k.channels) };
    if (k.rate !== undefined) publisher.rate = { ...k.rate };
    return { digest: Buffer.from(k.sha256, "hex"), publisher: Object.freeze(publisher) };
  });
  const ids = Object.freeze(keys.map((k) => k.id));
  return {
    ids,
    verify(authorizationHeader) {
      const key = bearerKey(authorizationHeader);
      if (key.length > MAX_KEY_LENGTH) throw unauthorized("Invalid API key.");
      // Comparing fixed-length digests, every entry every time: neither the timing of one comparison
      // nor the number of comparisons depends on which key (if any) matched.
      const digest = createHash("sha256").update(key, "utf8").digest();
      let found: Publisher | undefined;
      for (const entry of entries) {
        const same = timingSafeEqual(digest, entry.digest);
        found = same ? entry.publisher : found;
      }
      if (found === undefined) throw unauthorized("Invalid API key.");
      return found;
    },
  };
}
