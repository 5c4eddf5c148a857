import { describe, expect, it } from "vitest";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { createRateLimiter, takeOrThrow } from "../../shared/rate-limit.ts";

const T0 = 1_700_000_000_000;

describe("token bucket", () => {
  it("allows a burst, then refuses with Retry-After", () => {
    const limiter = createRateLimiter();
    const rate = { perSecond: 2, burst: 3 };
    for (let i = 0; i < 3; i++) expect(limiter.take("k", rate, T0)).toEqual({ ok: true });
    expect(limiter.take("k", rate, T0)).toEqual({ ok: false, retryAfterSec: 1 });
  });

  it("refills at perSecond, never above burst", () => {
    const limiter = createRateLimiter();
    const rate = { perSecond: 10, burst: 5 };
    for (let i = 0; i < 5; i++) limiter.take("k", rate, T0);
    expect(limiter.take("k", rate, T0 + 50).ok).toBe(false);
    expect(limiter.take("k", rate, T0 + 100).ok).toBe(true);
    // An hour idle refills to the burst, not to 36,000.
    const later = T0 + 3_600_000;
    for (let i = 0; i < 5; i++) expect(limiter.take("k", rate, later).ok).toBe(true);
    expect(limiter.take("k", rate, later).ok).toBe(false);
  });

  it("Retry-After is whole seconds, rounded up, and waiting it succeeds", () => {
    const limiter = createRateLimiter();
    const slow = { perSecond: 0.1, burst: 1 };
    expect(limiter.take("k", slow, T0).ok).toBe(true);
    expect(limiter.take("k", slow, T0)).toEqual({ ok: false, retryAfterSec: 10 });
    expect(limiter.take("k", slow, T0 + 4_000)).toEqual({ ok: false, retryAfterSec: 6 });
    expect(limiter.take("k", slow, T0 + 9_999)).toEqual({ ok: false, retryAfterSec: 1 });
    expect(limiter.take("k", slow, T0 + 10_000).ok).toBe(true);

    const fast = { perSecond: 1000, burst: 1 };
    limiter.take("f", fast, T0);
    expect(limiter.take("f", fast, T0)).toEqual({ ok: false, retryAfterSec: 1 });
  });

  it("a refused take costs nothing", () => {
    const limiter = createRateLimiter();
    const rate = { perSecond: 1, burst: 1 };
    limiter.take("k", rate, T0);
    for (let i = 0; i < 10; i++) limiter.take("k", rate, T0 + 500);
    expect(limiter.take("k", rate, T0 + 1000).ok).toBe(true);
  });

  it("keys are independent", () => {
    const limiter = createRateLimiter();
    const rate = { perSecond: 1, burst: 1 };
    expect(limiter.take("a", rate, T0).ok).toBe(true);
    expect(limiter.take("a", rate, T0).ok).toBe(false);
    expect(limiter.take("b", rate, T0).ok).toBe(true);
  });

  it("a clock stepping back mints no tokens", () => {
    const limiter = createRateLimiter();
    const rate = { perSecond: 1, burst: 1 };
    limiter.take("k", rate, T0);
    expect(limiter.take("k", rate, T0 - 60_000).ok).toBe(false);
    // …and does not move the bucket's time back: one second after T0 is still one token.
    expect(limiter.take("k", rate, T0 + 1000).ok).toBe(true);
    expect(limiter.take("k", rate, T0 + 1000).ok).toBe(false);
  });

  it("a lowered burst clamps tokens already held", () => {
    const limiter = createRateLimiter();
    limiter.take("k", { perSecond: 1, burst: 100 }, T0);
    const small = { perSecond: 1, burst: 2 };
    expect(limiter.take("k", small, T0).ok).toBe(true);
    expect(limiter.take("k", small, T0).ok).toBe(true);
    expect(limiter.take("k", small, T0).ok).toBe(false);
  });

  it("uses the injected clock when no time is passed", () => {
    let now = T0;
    const limiter = createRateLimiter({ clock: () => now });
    const rate = { perSecond: 1, burst: 1 };
    expect(limiter.take("k", rate).ok).toBe(true);
    expect(limiter.take("k", rate).ok).toBe(false);
    now += 1000;
    expect(limiter.take("k", rate).ok).toBe(true);
  });

  it("refuses a nonsensical rate", () => {
    const limiter = createRateLimiter();
    expect(() => limiter.take("k", { perSecond: 0, burst: 1 }, T0)).toThrow(RangeError);
    expect(() => limiter.take("k", { perSecond: 1, burst: 0 }, T0)).toThrow(RangeError);
    expect(() => limiter.take("k", { perSecond: Number.NaN, burst: 1 }, T0)).toThrow(RangeError);
    expect(() => createRateLimiter({ maxKeys: 0 })).toThrow(RangeError);
  });
});

describe("bounded memory", () => {
  it("never holds more than maxKeys buckets, dropping the least recently used", () => {
    const limiter = createRateLimiter({ maxKeys: 2 });
    const rate = { perSecond: 1, burst: 1 };
    limiter.take("a", rate, T0);
    limiter.take("b", rate, T0);
    limiter.take("a", rate, T0); // a is now the most recent
    limiter.take("c", rate, T0); // evicts b
    expect(limiter.size).toBe(2);
    expect(limiter.take("a", rate, T0).ok).toBe(false); // a kept its (empty) bucket
    expect(limiter.take("c", rate, T0).ok).toBe(false);
    expect(limiter.take("b", rate, T0).ok).toBe(true); // b was forgotten: a fresh burst
    expect(limiter.size).toBe(2);
  });

  it("defaults to 10,000 keys", () => {
    const limiter = createRateLimiter();
    for (let i = 0; i < 10_050; i++) limiter.take(`k${i}`, { perSecond: 1, burst: 1 }, T0);
    expect(limiter.size).toBe(10_000);
  });
});

describe("takeOrThrow", () => {
  it("throws rate_limited (429) carrying Retry-After", () => {
    const limiter = createRateLimiter();
    const rate = { perSecond: 0.5, burst: 1 };
    takeOrThrow(limiter, "k", rate, T0);
    try {
      takeOrThrow(limiter, "k", rate, T0);
      throw new Error("expected rate_limited");
    } catch (err) {
      expect(err).toBeInstanceOf(TailcastError);
      const e = err as TailcastError;
      expect(e.code).toBe(ErrorCode.rateLimited);
      expect(e.status).toBe(429);
      expect(e.retryAfter).toBe(2);
      expect(e.toBody().error.message).toBe("Rate limit exceeded: retry after 2 s.");
    }
  });
});
