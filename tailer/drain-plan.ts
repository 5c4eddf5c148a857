/**
 * When a draining node does what (README "Drain"). Pure: tailer/drain.ts runs it with timers.
 *
 * Clients are told to move spread evenly over the window — the i-th of n at i/n of it, the first at
 * once — so the nodes that take them over see a steady trickle of resumes instead of a herd. The node
 * stays up, refusing newcomers with the same signal, until the window ends even when it has few
 * clients: a load balancer needs a few probe intervals to see /readyz 503 and stop sending it any.
 * Then it stops, and it exits before the timeout whatever is still running.
 */
import type { DrainConfig } from "../shared/config.ts";

/** The most the exit deadline keeps in hand before the timeout, for the exit itself. */
const EXIT_MARGIN_MS = 500;

/** When the `index`-th of `count` connections is told to move, in milliseconds after the drain began. */
export function tellAt(index: number, count: number, windowMs: number): number {
  return count <= 0 ? 0 : Math.floor((index * windowMs) / count);
}

/**
 * How many of `count` connections are due by `elapsedMs` after the drain began (those with
 * `tellAt(i) <= elapsedMs`), given that `told` of them already were.
 */
export function dueBy(elapsedMs: number, told: number, count: number, windowMs: number): number {
  let due = told;
  while (due < count && tellAt(due, count, windowMs) <= elapsedMs) due++;
  return due;
}

/**
 * When, after the drain began, the process exits at the latest: before the timeout, keeping half of
 * what the window leaves (at most 500 ms) for the exit itself.
 */
export function exitDeadline({ windowMs, timeoutMs }: DrainConfig): number {
  return timeoutMs - Math.min(EXIT_MARGIN_MS, Math.floor((timeoutMs - windowMs) / 2));
}
