import { describe, expect, it } from "vitest";
import {
  authorizeChannel,
  compilePatterns,
  isChannelPattern,
  MAX_PATTERN_LENGTH,
  patternProblem,
} from "../../shared/auth/channel-patterns.ts";
import { ErrorCode } from "../../shared/errors.ts";
import { thrown } from "../helpers/thrown.ts";

describe("pattern matching", () => {
  it("an exact name allows only itself", () => {
    const m = compilePatterns(["news"]);
    expect(m.allows("news")).toBe(true);
    expect(m.allows("news:1")).toBe(false);
    expect(m.allows("new")).toBe(false);
    expect(m.allows("NEWS")).toBe(false);
  });

  it("a trailing * stands for one or more characters", () => {
    const m = compilePatterns(["chat:*"]);
    expect(m.allows("chat:x")).toBe(true);
    expect(m.allows("chat:a:b")).toBe(true);
    expect(m.allows("chat")).toBe(false);
    expect(m.allows("chat:")).toBe(false);
    expect(m.allows("chatx")).toBe(false);
    expect(m.allows("xchat:x")).toBe(false);
  });

  it("* alone allows every channel", () => {
    const m = compilePatterns(["*"]);
    for (const c of ["a", "chat:x", "_", "x@y=z+1"]) expect(m.allows(c)).toBe(true);
  });

  it("a prefix without separator is broad, as documented", () => {
    const m = compilePatterns(["chat*"]);
    expect(m.allows("chatroom")).toBe(true);
    expect(m.allows("chat:x")).toBe(true);
    expect(m.allows("chat")).toBe(false);
  });

  it("several patterns: any one may allow", () => {
    const m = compilePatterns(["orders:*", "billing", "audit:eu:*"]);
    expect(m.allows("orders:42")).toBe(true);
    expect(m.allows("billing")).toBe(true);
    expect(m.allows("audit:eu:1")).toBe(true);
    expect(m.allows("audit:us:1")).toBe(false);
  });

  it("symbols are literal: no regex semantics can leak in", () => {
    const m = compilePatterns(["a.b", "x+*", "p=q"]);
    expect(m.allows("a.b")).toBe(true);
    expect(m.allows("aXb")).toBe(false);
    expect(m.allows("xx")).toBe(false);
    expect(m.allows("x+1")).toBe(true);
    expect(m.allows("pq")).toBe(false);
  });

  it("never allows an empty name or a name holding *", () => {
    const m = compilePatterns(["*", "chat:*"]);
    expect(m.allows("")).toBe(false);
    expect(m.allows("chat:*")).toBe(false);
    expect(compilePatterns([]).allows("anything")).toBe(false);
  });

  it("keeps the patterns, deduplicated, and is frozen", () => {
    const m = compilePatterns(["a", "b:*", "a"]);
    expect(m.patterns).toEqual(["a", "b:*"]);
    expect(Object.isFrozen(m)).toBe(true);
  });
});

describe("pattern validation", () => {
  it.each(["chat", "chat:*", "*", "_x*", "a.b@c=d+e-f:*", "x".repeat(MAX_PATTERN_LENGTH)])(
    "accepts %j",
    (p) => {
      expect(isChannelPattern(p)).toBe(true);
      expect(patternProblem(p)).toBeUndefined();
    },
  );

  it.each([
    "",
    "**",
    "a*b",
    "*a",
    "chat:**",
    "ch at",
    ".x",
    "-x*",
    ":*",
    "a/b",
    "(.*)",
    "a\n",
    "é",
    "x".repeat(MAX_PATTERN_LENGTH + 1),
  ])("refuses %j", (p) => {
    expect(isChannelPattern(p)).toBe(false);
    expect(patternProblem(p)).toBeTypeOf("string");
  });

  it.each([undefined, null, 3, ["a"], {}])("refuses the non-string %j", (p) => {
    expect(isChannelPattern(p)).toBe(false);
  });

  it("compilePatterns names the bad pattern with invalid_config", () => {
    const err = thrown(() => compilePatterns(["ok", "a*b"]));
    expect(err.code).toBe(ErrorCode.invalidConfig);
    expect(err.message).toContain("1");
    expect(err.message).toContain('"a*b"');
    expect(err.message).toContain("only once");
  });
});

describe("authorizeChannel", () => {
  const principal = { channels: compilePatterns(["chat:*"]) };

  it("passes inside the scope", () => {
    expect(() => authorizeChannel(principal, "chat:1")).not.toThrow();
    expect(() => authorizeChannel(principal, "chat:1", "subscribe")).not.toThrow();
  });

  it("throws forbidden (403) naming the channel outside it", () => {
    const err = thrown(() => authorizeChannel(principal, "orders:1"));
    expect(err.code).toBe(ErrorCode.forbidden);
    expect(err.status).toBe(403);
    expect(err.message).toBe('This API key does not allow you to publish to channel "orders:1".');
    const sub = thrown(() => authorizeChannel(principal, "orders:1", "subscribe"));
    expect(sub.message).toBe('This token does not allow you to subscribe to channel "orders:1".');
  });
});
