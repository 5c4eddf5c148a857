/** The client's reconnect decision (client/reconnect.ts): backoff after failures, none after a drain signal. */
import { describe, expect, it } from "vitest";
import { initialReconnectState, nextAttempt, type ReconnectState } from "../../client/reconnect.ts";

const backoff = { initialMs: 100, maxMs: 10_000 };
const top = () => 1; // random() = 1: the full exponential ceiling, so delays show the failure count
const healthy = { healthy: true, drained: false };
const failed = { healthy: false, drained: false };
const drainedWhileHealthy = { healthy: true, drained: true };
const refusedDraining = { healthy: false, drained: true };

function run(ends: Array<{ healthy: boolean; drained: boolean }>, nodes: number): number[] {
  let state: ReconnectState = initialReconnectState;
  return ends.map((end) => {
    const next = nextAttempt(state, end, nodes, backoff, top);
    state = next.state;
    return next.delayMs;
  });
}

describe("nextAttempt", () => {
  it("backs off exponentially on failures and starts over after a healthy connection", () => {
    expect(run([failed, failed, failed, healthy, failed], 2)).toEqual([200, 400, 800, 100, 200]);
  });

  it("moves at once when the node drains, and does not count it as a failure", () => {
    expect(run([failed, failed, drainedWhileHealthy, failed], 2)).toEqual([200, 400, 0, 200]);
    expect(run([failed, refusedDraining, failed], 3)).toEqual([200, 0, 400]);
  });

  it("moves at once through draining nodes while one is left untried, then backs off", () => {
    // Three nodes: told to move, refused by the next, the third is tried at once.
    expect(run([drainedWhileHealthy, refusedDraining, healthy], 3)).toEqual([0, 0, 100]);
    // Two nodes, both draining: once each has sent the signal in a row, the backoff grows.
    expect(run([drainedWhileHealthy, refusedDraining, refusedDraining, refusedDraining], 2)).toEqual([
      0, 200, 400, 800,
    ]);
    // One node only: there is nowhere else to go.
    expect(run([drainedWhileHealthy], 1)).toEqual([200]);
  });

  it("a healthy connection between drains starts a new row", () => {
    expect(run([drainedWhileHealthy, drainedWhileHealthy, drainedWhileHealthy], 2)).toEqual([0, 0, 0]);
  });
});
