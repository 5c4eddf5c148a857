/**
 * Request bodies for fuzzing the ingest API: messages and batches valid and not, hostile `data`,
 * sizes at the limits, hand-written JSON that JSON.stringify never produces, and byte-level damage
 * (truncation, stray bytes, invalid UTF-8).
 */
import fc from "fast-check";
import { channelName, FUZZ_LIMITS, idempotencyPool, inScopeChannel, utf8 } from "./fuzz-ingest-channels.ts";
import { hostileObject, jsonish } from "./fuzz-json.ts";

export const EVENTS_VALID = [
  "chat",
  "message",
  "constructor",
  "hasOwnProperty",
  "toString",
  "valueOf",
  "a:b.c-d_e",
];
const EVENTS_RESERVED = [
  "connect",
  "connect_error",
  "disconnect",
  "error",
  "newListener",
  "ping",
  "subscribe",
];
const eventValue = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom<unknown>(...EVENTS_VALID) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_:.-]{0,20}$/) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(...EVENTS_RESERVED) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom<unknown>("", "__proto__", "$where", "1abc", "a b", "é", "x".repeat(65), "x".repeat(64)),
      fc.constantFrom<unknown>(0, 1.5, null, true, [], {}, ["chat"], { event: "chat" }),
      fc.string({ unit: "binary", maxLength: 10 }),
    ),
  },
);

/** A `data` string whose serialized size lands within a few bytes of the message limit. */
const nearLimitString = fc
  .tuple(fc.integer({ min: -6, max: 6 }), fc.constantFrom("x", "é", "😀", "\u0001"))
  .map(([delta, ch]) => {
    // Serialized bytes of one `ch` inside a JSON string: x 1, é 2, 😀 4, \u0001 6 (escaped).
    const per = ch === "x" ? 1 : ch === "é" ? 2 : ch === "😀" ? 4 : 6;
    return ch.repeat(
      Math.max(0, Math.floor((FUZZ_LIMITS.maxMessageBytes - 2 + delta) / per)) + (delta > 0 ? 1 : 0),
    );
  });

function nested(depth: number, kind: "array" | "object"): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === "array" ? [v] : { a: v };
  return v;
}

const dataValue = fc.oneof(
  { weight: 6, arbitrary: hostileObject.map((o): unknown => o) },
  { weight: 6, arbitrary: jsonish },
  { weight: 1, arbitrary: nearLimitString.map((s): unknown => s) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 28, max: 40 }), fc.constantFrom<"array" | "object">("array", "object"))
      .map(([d, k]) => nested(d, k)),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 0, "", [], {}, false, "x") },
);

const bodyIdempotencyKey = fc.oneof(
  idempotencyPool,
  fc.stringMatching(/^[\x21-\x7e]{1,32}$/),
  fc.constantFrom<unknown>("", "a b", 1, null, "x".repeat(256)),
);

const messageFields = {
  event: eventValue,
  data: dataValue,
  idempotencyKey: bodyIdempotencyKey,
  extra: fc.constantFrom<unknown>(1, "x", { $set: 1 }),
};
const singleMessage = fc.record(messageFields, { requiredKeys: [] });
const validishMessage = fc.record(
  { event: fc.constantFrom(...EVENTS_VALID), data: dataValue },
  { requiredKeys: ["data"] },
);
const singleObject = fc.oneof(
  { weight: 6, arbitrary: validishMessage.map((m): unknown => m) },
  { weight: 3, arbitrary: singleMessage.map((m): unknown => m) },
);

const batchMessage = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(inScopeChannel, validishMessage).map(([channel, m]): unknown => ({ channel, ...m })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(channelName, fc.record(messageFields, { requiredKeys: [] }))
      .map(([channel, m]): unknown => ({ channel, ...m })),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 1, "x", [], {}, { channel: "fz:a" }) },
);
const batchObject = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.array(batchMessage, { minLength: 1, maxLength: 6 }).map((messages) => ({ messages })),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: FUZZ_LIMITS.maxBatch - 1, max: FUZZ_LIMITS.maxBatch + 2 })
      .map((n) => ({ messages: Array.from({ length: n }, (_, i) => ({ channel: "fz:many", data: i })) })),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      { messages: null },
      { messages: {} },
      { messages: "x" },
      { messages: [] },
      [],
      { msgs: [] },
      { messages: [1, 2] },
      { messages: { length: 1, 0: { channel: "fz:a", data: 1 } } },
    ),
  },
);

/** Bodies as text, written by hand: what JSON.stringify would never produce. */
const RAW_BODIES = [
  "",
  "null",
  "[]",
  "1",
  '"str"',
  "true",
  "{",
  "}",
  "{}",
  '{"data":1e400}',
  '{"data":[-1e400]}',
  '{"data":12345678901234567890}',
  '{"data":1E2}',
  '{"data":-0}',
  '{"data":0.1e-400}',
  '{"data":"\\ud800"}',
  '{"data":"a","data":"b"}',
  '{"event":"chat","event":"connect","data":1}',
  '{"data":1,"__proto__":{"event":"connect"}}',
  '{"__proto__":{"data":1}}',
  '{"constructor":{"prototype":{"data":1}}}',
  '{"data":{"__proto__":{"polluted":1}}}',
  '{"data":{"constructor":{"prototype":{"polluted":1}}}}',
  '{"data":{"$where":"sleep(1000)","a.b":{"$gt":""}}}',
  '{"data":{"_placeholder":true,"num":0}}',
  '{"data":1}garbage',
  '{"data":1}\u0000',
  '\ufeff{"data":1}',
  ' \n\t{"data" : 1 }\r\n',
  '{"data":undefined}',
  "{'data':1}",
  '{"data":NaN}',
  '{"data":01}',
  '{"data":"\t"}',
  `{"data":${"[".repeat(30_000)}${"]".repeat(30_000)}}`,
  `{"data":${'{"a":'.repeat(33)}1${"}".repeat(33)}}`,
  `{"data":${'{"a":'.repeat(32)}1${"}".repeat(32)}}`,
  `{"messages":[${'{"channel":"fz:a","data":1},'.repeat(FUZZ_LIMITS.maxBatch)}{"channel":"fz:a","data":1}]}`,
];

const INVALID_UTF8 = [
  [0xff],
  [0xc3],
  [0xed, 0xa0, 0x80],
  [0xc0, 0xaf],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
];

type Mutation =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "append"; text: string }
  | { kind: "prepend"; text: string }
  | { kind: "badUtf8"; at: number; bytes: number[]; inString: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 24, arbitrary: fc.constant<Mutation>({ kind: "none" }) },
  {
    weight: 1,
    arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((at): Mutation => ({ kind: "truncate", at })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("x", "}", "\u0000", " ", "\n", ",", "{}")
      .map((text): Mutation => ({ kind: "append", text })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("\ufeff", " \r\n\t", "x", "[")
      .map((text): Mutation => ({ kind: "prepend", text })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        at: fc.double({ min: 0, max: 1, noNaN: true }),
        bytes: fc.constantFrom(...INVALID_UTF8),
        inString: fc.boolean(),
      })
      .map((m): Mutation => ({ kind: "badUtf8", ...m })),
  },
);

function mutate(text: string, m: Mutation): Uint8Array {
  switch (m.kind) {
    case "none":
      return utf8(text);
    case "truncate":
      return utf8(text.slice(0, Math.floor(m.at * text.length)));
    case "append":
      return utf8(text + m.text);
    case "prepend":
      return utf8(m.text + text);
    case "badUtf8": {
      const bytes = utf8(text);
      // Inside a string literal the JSON stays valid after U+FFFD replacement: the tricky case.
      const quote = m.inString ? text.indexOf('"', Math.floor(m.at * text.length)) : -1;
      const at = quote >= 0 ? utf8(text.slice(0, quote + 1)).byteLength : Math.floor(m.at * bytes.byteLength);
      return new Uint8Array([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
    }
  }
}

const encodedBody = (value: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 20, arbitrary: fc.tuple(value, mutation).map(([v, m]) => mutate(JSON.stringify(v), m)) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_BODIES).map(utf8) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  );

/** Rarely, a body at or over the request body limit. */
export const hugeBody = fc
  .constantFrom(
    FUZZ_LIMITS.maxBodyBytes - 64,
    FUZZ_LIMITS.maxBodyBytes + 1,
    FUZZ_LIMITS.maxBodyBytes + 4096,
    FUZZ_LIMITS.maxBodyBytes * 8,
  )
  .map((n) => utf8(`{"data":"${"x".repeat(n - 11)}"}`));

export const singleBody = encodedBody(singleObject);
export const batchBody = encodedBody(batchObject);
export const anyBody = encodedBody(fc.oneof(singleObject, batchObject));

/** A valid message with a hostile payload and event name, for a subscriber to check. */
export const watchedBody = fc
  .record({ event: fc.constantFrom(...EVENTS_VALID), data: fc.oneof(hostileObject, jsonish) })
  .map((m) => utf8(JSON.stringify(m)))
  .filter((b) => b.byteLength < FUZZ_LIMITS.maxMessageBytes / 2);
