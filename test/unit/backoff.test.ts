import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type BackoffOptions, backoffDelay, defaultBackoff, sleep } from "../../shared/backoff.ts";

const always = (r: number) => () => r;

describe("backoffDelay", () => {
  it("has documented defaults that cannot be changed", () => {
    expect(defaultBackoff).toEqual({ initialMs: 50, maxMs: 5000 });
    expect(Object.isFrozen(defaultBackoff)).toBe(true);
  });

  it("with random() = 0 waits half the initial delay, whatever the attempt", () => {
    for (const attempt of [0, 1, 2, 5, 10, 50, 2000]) {
      expect(backoffDelay(attempt, defaultBackoff, always(0))).toBe(25);
    }
  });

  it("with random() = 1 waits the full exponential ceiling, capped at maxMs", () => {
    const expected = [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000];
    expect(expected.map((_, attempt) => backoffDelay(attempt, defaultBackoff, always(1)))).toEqual(expected);
    // 2 ** 2000 is Infinity: still capped, never NaN.
    expect(backoffDelay(2000, defaultBackoff, always(1))).toBe(5000);
  });

  it("treats a negative attempt as the first", () => {
    expect(backoffDelay(-3, defaultBackoff, always(1))).toBe(50);
    expect(backoffDelay(-3, defaultBackoff, always(0))).toBe(25);
  });

  it("interpolates linearly between the floor and the ceiling", () => {
    // attempt 3: ceiling 400; 25 + 0.5 × (400 − 25) = 212.5 → 213
    expect(backoffDelay(3, defaultBackoff, always(0.5))).toBe(213);
    expect(backoffDelay(0, { initialMs: 100, maxMs: 1000 }, always(0.5))).toBe(75);
  });

  it("stays within [initialMs / 2, min(maxMs, initialMs × 2^attempt)] and is a whole number", () => {
    const options: BackoffOptions[] = [
      defaultBackoff,
      { initialMs: 2, maxMs: 50 },
      { initialMs: 1000, maxMs: 1000 },
    ];
    for (const o of options) {
      for (let attempt = 0; attempt <= 40; attempt++) {
        const ceiling = Math.min(o.maxMs, o.initialMs * 2 ** attempt);
        for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.999, 1]) {
          const d = backoffDelay(attempt, o, always(r));
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(Math.floor(o.initialMs / 2));
          expect(d).toBeLessThanOrEqual(ceiling);
          expect(d).toBeLessThanOrEqual(o.maxMs);
        }
      }
    }
  });

  it("never exceeds maxMs with the real Math.random", () => {
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(i % 20, defaultBackoff);
      expect(d).toBeGreaterThanOrEqual(25);
      expect(d).toBeLessThanOrEqual(5000);
    }
  });

  it("grows with the attempt until it reaches maxMs, then stays there", () => {
    let previous = 0;
    let reachedCap = false;
    for (let attempt = 0; attempt < 20; attempt++) {
      const d = backoffDelay(attempt, defaultBackoff, always(1));
      if (reachedCap) expect(d).toBe(defaultBackoff.maxMs);
      else expect(d).toBeGreaterThan(previous);
      reachedCap ||= d === defaultBackoff.maxMs;
      previous = d;
    }
    expect(reachedCap).toBe(true);
    // At any fixed jitter the delay never shrinks as attempts go up.
    for (const r of [0.1, 0.5, 0.9]) {
      for (let attempt = 1; attempt < 20; attempt++) {
        expect(backoffDelay(attempt, defaultBackoff, always(r))).toBeGreaterThanOrEqual(
          backoffDelay(attempt - 1, defaultBackoff, always(r)),
        );
      }
    }
  });

  it("spreads callers apart: different random values give different delays", () => {
    const delays = new Set([0, 0.2, 0.4, 0.6, 0.8, 1].map((r) => backoffDelay(6, defaultBackoff, always(r))));
    expect(delays.size).toBe(6);
  });
});

describe("sleep", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("resolves after the given time and not before", async () => {
    let done = false;
    const p = sleep(1000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    await p;
  });

  it("resolves at once when the signal aborts, and clears its timer", async () => {
    const controller = new AbortController();
    let done = false;
    const p = sleep(60_000, controller.signal).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await p;
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves (never rejects) with an already-aborted signal, without starting a timer", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stopping"));
    await expect(sleep(60_000, controller.signal)).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("removes its abort listener once the time has passed", async () => {
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, "addEventListener");
    const removed = vi.spyOn(controller.signal, "removeEventListener");
    const p = sleep(100, controller.signal);
    expect(added).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(100);
    await p;
    expect(removed).toHaveBeenCalledTimes(1);
    expect(removed.mock.calls[0]?.[0]).toBe("abort");
    expect(removed.mock.calls[0]?.[1]).toBe(added.mock.calls[0]?.[1]);
  });

  it("works with real timers too, ending early on abort", async () => {
    vi.useRealTimers();
    const controller = new AbortController();
    const started = performance.now();
    const p = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(), 1);
    await p;
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
