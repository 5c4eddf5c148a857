/**
 * The tailer's drain (README "Drain"): its configuration, the pure schedule (tailer/drain-plan.ts) and
 * the drain run against fake connections (tailer/drain.ts), with real timers over a short window.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadDrainConfig, loadTailerConfig } from "../../shared/config.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { createLogger } from "../../shared/log.ts";
import { NodeDrain } from "../../tailer/drain.ts";
import { dueBy, exitDeadline, tellAt } from "../../tailer/drain-plan.ts";

const quiet = createLogger("test", { level: "error", format: "text", write: () => {} });

function refusal(env: Record<string, string>): string {
  try {
    loadDrainConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(TailcastError);
    expect((err as TailcastError).code).toBe(ErrorCode.invalidConfig);
    return (err as TailcastError).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe("drain configuration", () => {
  it("defaults to a 10 s window within a 30 s timeout", () => {
    expect(loadDrainConfig({})).toEqual({ windowMs: 10_000, timeoutMs: 30_000 });
    expect(loadTailerConfig({}).drain).toEqual({ windowMs: 10_000, timeoutMs: 30_000 });
  });

  it("accepts a window of 0 (everyone told at once) and any window below the timeout", () => {
    expect(loadDrainConfig({ TAILCAST_DRAIN_WINDOW_MS: "0" })).toEqual({ windowMs: 0, timeoutMs: 30_000 });
    expect(loadDrainConfig({ TAILCAST_DRAIN_WINDOW_MS: "2999", TAILCAST_DRAIN_TIMEOUT_MS: "3000" })).toEqual({
      windowMs: 2999,
      timeoutMs: 3000,
    });
  });

  it("refuses a window that is not below the timeout, naming the variable", () => {
    for (const [window, timeout] of [
      ["30000", undefined],
      ["5000", "5000"],
      ["6000", "5000"],
    ] as const) {
      const env = {
        TAILCAST_DRAIN_WINDOW_MS: window,
        ...(timeout ? { TAILCAST_DRAIN_TIMEOUT_MS: timeout } : {}),
      };
      expect(refusal(env)).toMatch(/TAILCAST_DRAIN_WINDOW_MS: must be less than TAILCAST_DRAIN_TIMEOUT_MS/);
    }
  });

  it("refuses values that are not whole milliseconds in range", () => {
    expect(refusal({ TAILCAST_DRAIN_WINDOW_MS: "-1" })).toContain("TAILCAST_DRAIN_WINDOW_MS");
    expect(refusal({ TAILCAST_DRAIN_TIMEOUT_MS: "1.5" })).toContain("TAILCAST_DRAIN_TIMEOUT_MS");
    expect(refusal({ TAILCAST_DRAIN_TIMEOUT_MS: "soon" })).toContain("TAILCAST_DRAIN_TIMEOUT_MS");
  });

  it("reads the admin token; blank is unset, white space inside is refused", () => {
    expect(loadTailerConfig({ TAILCAST_ADMIN_TOKEN: "s3cret-token-0123" }).admin.kind).toBe("token");
    expect(loadTailerConfig({ TAILCAST_ADMIN_TOKEN: "  " }).admin.kind).toBe("closed");
    expect(() => loadTailerConfig({ TAILCAST_ADMIN_TOKEN: "two words, long enough" })).toThrow(
      /TAILCAST_ADMIN_TOKEN/,
    );
  });
});

describe("the schedule", () => {
  it("spreads n connections evenly over the window, the first at once", () => {
    expect([0, 1, 2, 3].map((i) => tellAt(i, 4, 1000))).toEqual([0, 250, 500, 750]);
    expect(tellAt(0, 1, 1000)).toBe(0);
    expect([0, 1, 2].map((i) => tellAt(i, 3, 0))).toEqual([0, 0, 0]);
  });

  it("never tells anyone after the window, and in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 3_600_000 }), (n, w) => {
        let previous = -1;
        const indexes = [...new Set([0, 1, Math.floor(n / 2), n - 2, n - 1])].filter((x) => x >= 0 && x < n);
        for (const i of indexes.sort((a, b) => a - b)) {
          const at = tellAt(i, n, w);
          expect(at).toBeGreaterThanOrEqual(previous);
          expect(at).toBeLessThanOrEqual(w);
          expect(at).toBeLessThan(w === 0 ? 1 : w);
          previous = at;
        }
      }),
    );
  });

  it("dueBy counts exactly the connections whose time has come", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 25_000 }),
        (n, w, elapsed) => {
          const due = dueBy(elapsed, 0, n, w);
          for (let i = 0; i < n; i++) expect(i < due).toBe(tellAt(i, n, w) <= elapsed);
          // Starting from some already told gives the same answer.
          expect(dueBy(elapsed, Math.min(due, 3), n, w)).toBe(due);
        },
      ),
    );
  });

  it("exits before the timeout, after the window, keeping at most 500 ms for the exit", () => {
    expect(exitDeadline({ windowMs: 10_000, timeoutMs: 30_000 })).toBe(29_500);
    expect(exitDeadline({ windowMs: 2_000, timeoutMs: 2_400 })).toBe(2_200);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3_600_000 }), fc.integer({ min: 1, max: 3_600_000 }), (w, d) => {
        const deadline = exitDeadline({ windowMs: w, timeoutMs: w + d });
        expect(deadline).toBeLessThanOrEqual(w + d);
        expect(deadline).toBeGreaterThanOrEqual(w);
        if (d >= 2) expect(deadline).toBeLessThan(w + d);
      }),
    );
  });
});

/** A connection that records when it was told to move, relative to `origin`. */
class FakeConnection {
  toldAt: number | null = null;
  connected: boolean;
  constructor(
    readonly origin: () => number,
    connected = true,
  ) {
    this.connected = connected;
  }
  moveOn(): boolean {
    if (!this.connected || this.toldAt !== null) return false;
    this.toldAt = performance.now() - this.origin();
    return true;
  }
}

describe("NodeDrain", () => {
  it("refuses admission, tells every connection no earlier than its turn, sweeps latecomers, then stops", async () => {
    let began = 0;
    const origin = () => began;
    const open = new Set(Array.from({ length: 8 }, () => new FakeConnection(origin)));
    const stillConnecting = new FakeConnection(origin);
    let stoppedAt: number | null = null;
    const windowMs = 160;
    const drain = new NodeDrain({
      config: { windowMs, timeoutMs: 5000 },
      connections: () => open,
      stop: async () => {
        stoppedAt = performance.now() - began;
      },
      log: quiet,
    });
    expect(drain.draining).toBe(false);
    expect(drain.state()).toBeNull();
    expect(() => drain.admit()).not.toThrow();

    began = performance.now();
    const run = drain.start("test");
    expect(drain.start("again")).toBe(run);
    expect(drain.draining).toBe(true);
    expect(() => drain.admit()).toThrow(expect.objectContaining({ code: ErrorCode.nodeDraining }));
    expect(drain.state()).toMatchObject({ clients: 8, remaining: 7 }); // the first is told at once
    // Admitted just before the drain began, set up after it: told by the sweep after the window.
    open.add(stillConnecting);
    await run;

    const told = [...open].filter((c) => c !== stillConnecting).map((c) => c.toldAt as number);
    // A timer can fire before performance.now() says it is due; the drain checks its clock again, so
    // each connection is told no earlier than its turn.
    for (const [i, at] of told.entries()) expect(at).toBeGreaterThanOrEqual(tellAt(i, 8, windowMs));
    expect(stillConnecting.toldAt).toBeGreaterThanOrEqual(windowMs);
    expect(stoppedAt).toBeGreaterThanOrEqual(windowMs);
    expect(stoppedAt).toBeGreaterThanOrEqual(stillConnecting.toldAt as number);
    expect(drain.state()).toMatchObject({ clients: 8, remaining: 0 });
  });

  it("with no connections still waits the window, then stops", async () => {
    let stopped = false;
    const drain = new NodeDrain({
      config: { windowMs: 50, timeoutMs: 1000 },
      connections: () => [],
      stop: async () => {
        stopped = true;
      },
      log: quiet,
    });
    const began = performance.now();
    await drain.start("test");
    expect(stopped).toBe(true);
    expect(performance.now() - began).toBeGreaterThanOrEqual(50);
  });
});
