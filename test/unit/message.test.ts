import { describe, expect, it } from "vitest";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import {
  DEFAULT_EVENT,
  defaultMessageLimits,
  jsonDepth,
  type MessageLimits,
  RESERVED_EVENTS,
  validateBatch,
  validateChannel,
  validateEvent,
  validateMessage,
} from "../../shared/message.ts";
import { thrown } from "../helpers/thrown.ts";

const limits: MessageLimits = { ...defaultMessageLimits };

/** `depth` nested arrays around 0, built iteratively so the builder itself cannot overflow. */
function nestedArrays(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function nestedObjects(depth: number): unknown {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = { k: v };
  return v;
}

describe("validateChannel", () => {
  it.each(["chat", "chat:room-1", "a.b", "user@x", "_private", "a=b+c", "A", "0", "orders:2024-01-01T10:00"])(
    "accepts %j and returns it unchanged",
    (name) => {
      expect(validateChannel(name, limits)).toBe(name);
    },
  );

  it.each([
    ["empty", ""],
    ["wildcard", "*"],
    ["wildcard inside", "chat:*"],
    ["$ operator", "$where"],
    ["$ inside", "a$b"],
    ["space", "a b"],
    ["leading space", " a"],
    ["slash", "a/b"],
    ["path traversal", "../x"],
    ["backslash", "a\\b"],
    ["unicode letter", "café"],
    ["CJK", "日本"],
    ["emoji", "chat😀"],
    ["trailing newline", "a\n"],
    ["leading newline", "\na"],
    ["tab", "a\tb"],
    ["NUL", "a\u0000b"],
    ["leading -", "-x"],
    ["leading .", ".x"],
    ["leading :", ":x"],
    ["leading @", "@x"],
    ["percent", "a%2Fb"],
    ["question mark", "a?b"],
    ["hash", "a#b"],
  ])("rejects %s with invalid_channel", (_label, name) => {
    const err = thrown(() => validateChannel(name, limits));
    expect(err.code).toBe(ErrorCode.invalidChannel);
    expect(err.status).toBe(400);
  });

  it.each([
    ["number", 5],
    ["null", null],
    ["undefined", undefined],
    ["object", { toString: () => "chat" }],
    ["array", ["chat"]],
    ["boolean", true],
  ])("rejects a non-string (%s) with invalid_channel", (_label, value) => {
    expect(thrown(() => validateChannel(value, limits)).code).toBe(ErrorCode.invalidChannel);
  });

  it("accepts exactly maxChannelLength characters and rejects one more", () => {
    const atLimit = "c".repeat(limits.maxChannelLength);
    expect(validateChannel(atLimit, limits)).toBe(atLimit);
    const err = thrown(() => validateChannel(`${atLimit}c`, limits));
    expect(err.code).toBe(ErrorCode.invalidChannel);
    expect(err.message).toContain(String(limits.maxChannelLength));
  });

  it("uses the limit it is given, not the default", () => {
    const small = { ...limits, maxChannelLength: 5 };
    expect(validateChannel("abcde", small)).toBe("abcde");
    expect(thrown(() => validateChannel("abcdef", small)).code).toBe(ErrorCode.invalidChannel);
  });
});

describe("validateEvent", () => {
  it('defaults to "message" when undefined', () => {
    expect(DEFAULT_EVENT).toBe("message");
    expect(validateEvent(undefined, limits)).toBe("message");
  });

  it.each(["chat", "chat:typing", "user.joined", "a-b_c", "Z9"])("accepts %j", (name) => {
    expect(validateEvent(name, limits)).toBe(name);
  });

  it("refuses every reserved name with reserved_event", () => {
    expect(RESERVED_EVENTS.size).toBeGreaterThan(0);
    for (const name of RESERVED_EVENTS) {
      const err = thrown(() => validateEvent(name, limits));
      expect(err.code, name).toBe(ErrorCode.reservedEvent);
      expect(err.status).toBe(400);
    }
  });

  it.each([
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "error",
    "newListener",
    "removeListener",
    "ping",
    "pong",
    "subscribe",
    "unsubscribe",
    "subscribed",
  ])("reserves %j (Socket.IO and tailcast protocol names)", (name) => {
    expect(RESERVED_EVENTS.has(name)).toBe(true);
    expect(thrown(() => validateEvent(name, limits)).code).toBe(ErrorCode.reservedEvent);
  });

  it.each([
    ["empty", ""],
    ["leading digit", "1abc"],
    ["leading underscore", "_x"],
    ["leading -", "-x"],
    ["space", "a b"],
    ["slash", "a/b"],
    ["$", "$where"],
    ["unicode", "événement"],
    ["newline", "chat\n"],
  ])("rejects %s with invalid_event", (_label, name) => {
    expect(thrown(() => validateEvent(name, limits)).code).toBe(ErrorCode.invalidEvent);
  });

  it.each([
    ["null", null],
    ["number", 5],
    ["object", {}],
    ["array", ["chat"]],
  ])("rejects a non-string (%s) with invalid_event", (_label, value) => {
    expect(thrown(() => validateEvent(value, limits)).code).toBe(ErrorCode.invalidEvent);
  });

  it("accepts exactly maxEventLength characters and rejects one more", () => {
    const atLimit = "e".repeat(limits.maxEventLength);
    expect(validateEvent(atLimit, limits)).toBe(atLimit);
    const err = thrown(() => validateEvent(`${atLimit}e`, limits));
    expect(err.code).toBe(ErrorCode.invalidEvent);
    expect(err.message).toContain(String(limits.maxEventLength));
  });
});

describe("jsonDepth", () => {
  it("counts containers, not scalars", () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth("x")).toBe(0);
    expect(jsonDepth(null)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth([])).toBe(1);
    expect(jsonDepth({ a: [1, { b: null }] })).toBe(3);
    expect(jsonDepth([[], [[[]]], {}])).toBe(4);
  });

  it("reports the deepest branch, whichever side it is on", () => {
    expect(jsonDepth({ shallow: 1, deep: nestedObjects(10) })).toBe(11);
    expect(jsonDepth([nestedArrays(10), 1])).toBe(11);
  });

  it("measures 100k levels of nesting without overflowing the stack", () => {
    expect(jsonDepth(nestedArrays(100_000))).toBe(100_000);
    expect(jsonDepth(nestedObjects(100_000))).toBe(100_000);
  });
});

describe("validateMessage", () => {
  it("returns the channel, the default event and data as JSON text", () => {
    expect(validateMessage("chat", { data: { text: "hi" } }, limits)).toEqual({
      channel: "chat",
      event: "message",
      data: '{"text":"hi"}',
    });
    expect(validateMessage("chat", { event: "typing", data: [1, 2] }, limits)).toEqual({
      channel: "chat",
      event: "typing",
      data: "[1,2]",
    });
  });

  it.each([
    ["null", null],
    ["array", [{ data: 1 }]],
    ["string", "hello"],
    ["number", 42],
    ["undefined", undefined],
  ])("refuses a %s body with invalid_body", (_label, body) => {
    expect(thrown(() => validateMessage("chat", body, limits)).code).toBe(ErrorCode.invalidBody);
  });

  it("refuses a missing or undefined data with missing_data", () => {
    expect(thrown(() => validateMessage("chat", {}, limits)).code).toBe(ErrorCode.missingData);
    expect(thrown(() => validateMessage("chat", { event: "x" }, limits)).code).toBe(ErrorCode.missingData);
    expect(thrown(() => validateMessage("chat", { data: undefined }, limits)).code).toBe(
      ErrorCode.missingData,
    );
  });

  it("does not take `data` from the prototype chain", () => {
    const body = Object.create({ data: "inherited" }) as Record<string, unknown>;
    expect(thrown(() => validateMessage("chat", body, limits)).code).toBe(ErrorCode.missingData);
  });

  it.each([
    ["null", null, "null"],
    ["false", false, "false"],
    ["zero", 0, "0"],
    ["empty string", "", '""'],
    ["empty object", {}, "{}"],
  ])("allows falsy data (%s)", (_label, data, text) => {
    expect(validateMessage("chat", { data }, limits).data).toBe(text);
  });

  it("checks the channel and event too", () => {
    expect(thrown(() => validateMessage("$where", { data: 1 }, limits)).code).toBe(ErrorCode.invalidChannel);
    expect(thrown(() => validateMessage("chat", { event: "connect", data: 1 }, limits)).code).toBe(
      ErrorCode.reservedEvent,
    );
    expect(thrown(() => validateMessage("chat", { event: 7, data: 1 }, limits)).code).toBe(
      ErrorCode.invalidEvent,
    );
  });

  it("accepts data exactly maxDepth deep and refuses one level more with invalid_data", () => {
    expect(jsonDepth(nestedObjects(limits.maxDepth))).toBe(limits.maxDepth);
    expect(() => validateMessage("chat", { data: nestedObjects(limits.maxDepth) }, limits)).not.toThrow();
    const err = thrown(() => validateMessage("chat", { data: nestedArrays(limits.maxDepth + 1) }, limits));
    expect(err.code).toBe(ErrorCode.invalidData);
    expect(err.status).toBe(400);
  });

  it("refuses 100k levels of nesting with invalid_data, not a stack overflow", () => {
    expect(thrown(() => validateMessage("chat", { data: nestedArrays(100_000) }, limits)).code).toBe(
      ErrorCode.invalidData,
    );
  });

  describe("size limit, in UTF-8 bytes of the serialized data", () => {
    it("accepts exactly maxMessageBytes and refuses one byte more", () => {
      // A string of n ASCII characters serializes to n + 2 bytes (the quotes).
      const atLimit = "x".repeat(limits.maxMessageBytes - 2);
      expect(validateMessage("chat", { data: atLimit }, limits).data.length).toBe(limits.maxMessageBytes);
      const err = thrown(() => validateMessage("chat", { data: `${atLimit}x` }, limits));
      expect(err.code).toBe(ErrorCode.messageTooLarge);
      expect(err.status).toBe(413);
    });

    it("counts bytes, not characters, for two-byte characters", () => {
      const small = { ...limits, maxMessageBytes: 10 };
      // "éééé" → 2 quotes + 4 × 2 bytes = 10 bytes (6 UTF-16 units).
      expect(validateMessage("chat", { data: "éééé" }, small).data).toBe('"éééé"');
      // 12 bytes but only 7 characters: a character count would let it through.
      expect(thrown(() => validateMessage("chat", { data: "ééééé" }, small)).code).toBe(
        ErrorCode.messageTooLarge,
      );
    });

    it("counts bytes, not UTF-16 units, for astral characters", () => {
      const small = { ...limits, maxMessageBytes: 10 };
      // "😀😀" → 2 + 2 × 4 = 10 bytes; the JSON text is 6 UTF-16 units long.
      expect(validateMessage("chat", { data: "😀😀" }, small).data).toBe('"😀😀"');
      expect(thrown(() => validateMessage("chat", { data: "😀😀x" }, small)).code).toBe(
        ErrorCode.messageTooLarge,
      );
    });
  });

  describe("hostile keys inside data stay plain data", () => {
    it("keeps __proto__ and constructor as JSON text and does not pollute Object.prototype", () => {
      // What the HTTP layer hands over: JSON.parse makes `__proto__` an own property.
      const body = JSON.parse(
        '{"data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted2":true}},"x":1}}',
      ) as unknown;
      const out = validateMessage("chat", body, limits);
      expect(out.data).toBe(
        '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted2":true}},"x":1}',
      );
      const roundTrip = JSON.parse(out.data) as Record<string, unknown>;
      expect(Object.hasOwn(roundTrip, "__proto__")).toBe(true);
      expect(Object.getPrototypeOf(roundTrip)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted2).toBeUndefined();
      expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
    });

    it("counts depth through a __proto__ key like any other key", () => {
      const body = JSON.parse(`{"data":{"__proto__":${JSON.stringify(nestedArrays(limits.maxDepth))}}}`);
      expect(thrown(() => validateMessage("chat", body, limits)).code).toBe(ErrorCode.invalidData);
    });

    it("keeps $-operators and dotted keys verbatim as text", () => {
      const data = { $where: "sleep(1000)", $set: { "a.b": 1 }, "x.y.z": { $gt: "" } };
      const out = validateMessage("chat", { data }, limits);
      expect(typeof out.data).toBe("string");
      expect(out.data).toBe('{"$where":"sleep(1000)","$set":{"a.b":1},"x.y.z":{"$gt":""}}');
      expect(JSON.parse(out.data)).toEqual(data);
    });
  });
});

describe("validateBatch", () => {
  const ok = (channel: string, data: unknown = 1) => ({ channel, data });

  it("validates every message and keeps their order", () => {
    expect(
      validateBatch({ messages: [ok("a", { n: 1 }), { channel: "b", event: "chat", data: "x" }] }, limits),
    ).toEqual([
      { channel: "a", event: "message", data: '{"n":1}' },
      { channel: "b", event: "chat", data: '"x"' },
    ]);
  });

  it.each([
    ["null", null],
    ["array", [ok("a")]],
    ["string", "x"],
    ["object without messages", {}],
    ["messages as string", { messages: "x" }],
    ["messages as object", { messages: { 0: ok("a") } }],
    ["messages null", { messages: null }],
  ])("refuses a %s body with invalid_body", (_label, body) => {
    expect(thrown(() => validateBatch(body, limits)).code).toBe(ErrorCode.invalidBody);
  });

  it("refuses an empty batch with invalid_body", () => {
    expect(thrown(() => validateBatch({ messages: [] }, limits)).code).toBe(ErrorCode.invalidBody);
  });

  it("accepts exactly maxBatch messages and refuses one more with batch_too_large (413)", () => {
    const small = { ...limits, maxBatch: 3 };
    expect(validateBatch({ messages: [ok("a"), ok("b"), ok("c")] }, small)).toHaveLength(3);
    const err = thrown(() => validateBatch({ messages: [ok("a"), ok("b"), ok("c"), ok("d")] }, small));
    expect(err.code).toBe(ErrorCode.batchTooLarge);
    expect(err.status).toBe(413);
  });

  it("checks the batch size before validating each message", () => {
    const small = { ...limits, maxBatch: 1 };
    expect(thrown(() => validateBatch({ messages: [null, null] }, small)).code).toBe(ErrorCode.batchTooLarge);
  });

  it("names the failing message by index and keeps its code", () => {
    const err = thrown(() =>
      validateBatch({ messages: [ok("a"), ok("b"), { channel: "$where", data: 1 }] }, limits),
    );
    expect(err.code).toBe(ErrorCode.invalidChannel);
    expect(err.message.startsWith("messages[2]: ")).toBe(true);

    const missing = thrown(() => validateBatch({ messages: [ok("a"), { channel: "b" }] }, limits));
    expect(missing.code).toBe(ErrorCode.missingData);
    expect(missing.message.startsWith("messages[1]: ")).toBe(true);
  });

  it.each([
    ["null", null],
    ["number", 5],
    ["array", [ok("a")]],
  ])("refuses a %s element with invalid_body and its index", (_label, element) => {
    const err = thrown(() => validateBatch({ messages: [ok("a"), element] }, limits));
    expect(err.code).toBe(ErrorCode.invalidBody);
    expect(err.message.startsWith("messages[1]: ")).toBe(true);
  });

  it("is all-or-nothing: one bad message rejects the whole batch", () => {
    const good = [ok("a"), ok("b"), ok("c")];
    expect(validateBatch({ messages: good }, limits)).toHaveLength(3);
    for (const bad of [
      { channel: "ok", event: "disconnect", data: 1 },
      { channel: "ok", data: nestedArrays(limits.maxDepth + 1) },
      { channel: "ok", data: "x".repeat(limits.maxMessageBytes) },
      { channel: "../x", data: 1 },
    ]) {
      expect(() => validateBatch({ messages: [...good, bad] }, limits)).toThrow(TailcastError);
      expect(() => validateBatch({ messages: [bad, ...good] }, limits)).toThrow(TailcastError);
    }
  });
});
