import { describe, expect, it } from "vitest";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { defaultMessageLimits } from "../../shared/message.ts";
import { errorReply } from "../../shared/protocol/replies.ts";
import { parseSubscribe, parseUnsubscribe } from "../../shared/protocol/requests.ts";
import { roomOf } from "../../tailer/fanout.ts";

const limits = { ...defaultMessageLimits };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TailcastError);
    return (err as TailcastError).code;
  }
  throw new Error("expected a TailcastError, nothing was thrown");
}

describe("parseSubscribe", () => {
  it("accepts a channel without since", () => {
    expect(parseSubscribe({ channel: "chat:room-1" }, limits)).toEqual({
      channel: "chat:room-1",
      since: null,
      presence: false,
    });
  });

  it("treats since: null like no since", () => {
    expect(parseSubscribe({ channel: "chat", since: null }, limits)).toEqual({
      channel: "chat",
      since: null,
      presence: false,
    });
  });

  it("accepts a since position and copies only offset and epoch", () => {
    expect(parseSubscribe({ channel: "chat", since: { offset: 0, epoch: "e1" } }, limits)).toEqual({
      channel: "chat",
      since: { offset: 0, epoch: "e1" },
      presence: false,
    });
    const parsed = parseSubscribe(
      { channel: "chat", since: { offset: 41, epoch: "e1", extra: { $gt: 0 } }, other: true },
      limits,
    );
    expect(parsed).toStrictEqual({ channel: "chat", since: { offset: 41, epoch: "e1" }, presence: false });
  });

  it("asks for presence updates only with presence: true, and refuses any other value", () => {
    expect(parseSubscribe({ channel: "chat", presence: true }, limits).presence).toBe(true);
    expect(parseSubscribe({ channel: "chat", presence: false }, limits).presence).toBe(false);
    for (const presence of ["true", 1, null, {}, []]) {
      expect(codeOf(() => parseSubscribe({ channel: "chat", presence }, limits))).toBe(
        ErrorCode.invalidRequest,
      );
    }
  });

  it("accepts the largest safe offset and a 64-character epoch", () => {
    const since = { offset: Number.MAX_SAFE_INTEGER, epoch: "e".repeat(64) };
    expect(parseSubscribe({ channel: "chat", since }, limits).since).toEqual(since);
  });

  it.each([
    ["null", null],
    ["undefined", undefined],
    ["string", "chat"],
    ["number", 1],
    ["array", ["chat"]],
    ["array of objects", [{ channel: "chat" }]],
    ["boolean", true],
  ])("refuses a %s request with invalid_request", (_label, request) => {
    expect(codeOf(() => parseSubscribe(request, limits))).toBe(ErrorCode.invalidRequest);
  });

  it.each([
    ["missing", {}],
    ["empty", { channel: "" }],
    ["$where", { channel: "$where" }],
    ["wildcard", { channel: "*" }],
    ["path", { channel: "../x" }],
    ["too long", { channel: "c".repeat(limits.maxChannelLength + 1) }],
    ["number", { channel: 5 }],
    ["object", { channel: { $ne: null } }],
  ])("refuses a bad channel (%s) with invalid_channel", (_label, request) => {
    expect(codeOf(() => parseSubscribe(request, limits))).toBe(ErrorCode.invalidChannel);
  });

  it.each([
    ["negative offset", { offset: -1, epoch: "e1" }],
    ["float offset", { offset: 1.5, epoch: "e1" }],
    ["string offset", { offset: "5", epoch: "e1" }],
    ["NaN offset", { offset: Number.NaN, epoch: "e1" }],
    ["infinite offset", { offset: Number.POSITIVE_INFINITY, epoch: "e1" }],
    ["unsafe offset", { offset: Number.MAX_SAFE_INTEGER + 1, epoch: "e1" }],
    ["missing offset", { epoch: "e1" }],
    ["missing epoch", { offset: 5 }],
    ["numeric epoch", { offset: 5, epoch: 7 }],
    ["null epoch", { offset: 5, epoch: null }],
    ["huge epoch", { offset: 5, epoch: "e".repeat(65) }],
    ["very huge epoch", { offset: 5, epoch: "e".repeat(1_000_000) }],
    ["since as number", 5],
    ["since as string", "5"],
    ["since as array", [5, "e1"]],
    ["since as boolean", true],
  ])("refuses a bad since (%s) with invalid_request", (_label, since) => {
    expect(codeOf(() => parseSubscribe({ channel: "chat", since }, limits))).toBe(ErrorCode.invalidRequest);
  });

  it("checks the channel with the limits it is given", () => {
    const small = { ...limits, maxChannelLength: 3 };
    expect(parseSubscribe({ channel: "abc" }, small).channel).toBe("abc");
    expect(codeOf(() => parseSubscribe({ channel: "abcd" }, small))).toBe(ErrorCode.invalidChannel);
  });
});

describe("parseUnsubscribe", () => {
  it("accepts a channel and ignores anything else", () => {
    expect(parseUnsubscribe({ channel: "chat", since: { offset: 1 } }, limits)).toStrictEqual({
      channel: "chat",
    });
  });

  it.each([
    ["null", null],
    ["string", "chat"],
    ["array", [{ channel: "chat" }]],
  ])("refuses a %s request with invalid_request", (_label, request) => {
    expect(codeOf(() => parseUnsubscribe(request, limits))).toBe(ErrorCode.invalidRequest);
  });

  it.each([{}, { channel: "" }, { channel: "$where" }, { channel: "a b" }])(
    "refuses %j with invalid_channel",
    (request) => {
      expect(codeOf(() => parseUnsubscribe(request, limits))).toBe(ErrorCode.invalidChannel);
    },
  );
});

describe("errorReply", () => {
  it("keeps the code and message of a TailcastError", () => {
    const err = new TailcastError(ErrorCode.invalidChannel, "Channel must be a non-empty string.");
    expect(errorReply(err)).toStrictEqual({
      ok: false,
      error: { code: "invalid_channel", message: "Channel must be a non-empty string." },
    });
  });

  it("is exactly what parseSubscribe's error turns into", () => {
    let reply: unknown;
    try {
      parseSubscribe(null, limits);
    } catch (err) {
      reply = errorReply(err);
    }
    expect(reply).toMatchObject({ ok: false, error: { code: "invalid_request" } });
    expect(Object.keys((reply as { error: object }).error).sort()).toEqual(["code", "message"]);
  });

  it.each([
    ["Error", new Error("connect ECONNREFUSED 10.0.0.7:27017 at /srv/tailer/node.ts:42")],
    ["TypeError", new TypeError("Cannot read properties of undefined (reading 'offset')")],
    ["string", "secret"],
    ["look-alike object", { code: "invalid_channel", message: "forged" }],
    ["undefined", undefined],
  ])("hides a %s behind internal_error", (_label, err) => {
    const reply = errorReply(err);
    expect(reply).toStrictEqual({ ok: false, error: { code: "internal_error", message: "Internal error." } });
  });
});

describe("roomOf", () => {
  it("prefixes the channel", () => {
    expect(roomOf("chat")).toBe("ch:chat");
    expect(roomOf("chat:room-1")).toBe("ch:chat:room-1");
  });

  it("gives distinct channels distinct rooms, none equal to the channel itself", () => {
    const channels = ["a", "b", "ch:a", "A"];
    const rooms = channels.map(roomOf);
    expect(new Set(rooms).size).toBe(channels.length);
    for (const c of channels) expect(roomOf(c)).not.toBe(c);
  });
});
