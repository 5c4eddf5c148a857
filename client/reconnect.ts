/**
 * What the client does after a connection ends: how long to wait, and how many failures it counts.
 * Pure. A node that is draining (README "Drain") asks its clients to move: that is not a failure and
 * waits for nothing — unless every node in a row has asked it, when there is nowhere to go and the
 * ordinary backoff applies, counted as a failure so it grows.
 */
import { type BackoffOptions, backoffDelay } from "../shared/backoff.ts";

/** How one connection ended. */
export interface SessionEnd {
  /** Every subscription was acknowledged on it. */
  healthy: boolean;
  /** The node sent the drain signal (it refused the connection or told the client to move). */
  drained: boolean;
}

export interface ReconnectState {
  /** Failed connections since the last healthy one: the backoff's exponent. */
  failures: number;
  /** Drain signals in a row from connection attempts in a row (a healthy connection starts a new row). */
  drainedInARow: number;
}

export const initialReconnectState: Readonly<ReconnectState> = Object.freeze({
  failures: 0,
  drainedInARow: 0,
});

export function nextAttempt(
  state: ReconnectState,
  end: SessionEnd,
  /** Distinct node URLs the client knows. */
  nodes: number,
  backoff: BackoffOptions,
  random: () => number = Math.random,
): { delayMs: number; state: ReconnectState } {
  const drainedInARow = !end.drained ? 0 : end.healthy ? 1 : state.drainedInARow + 1;
  if (end.drained && drainedInARow < nodes) {
    return { delayMs: 0, state: { failures: end.healthy ? 0 : state.failures, drainedInARow } };
  }
  const failures = end.healthy && !end.drained ? 0 : state.failures + 1;
  return { delayMs: backoffDelay(failures, backoff, random), state: { failures, drainedInARow } };
}
