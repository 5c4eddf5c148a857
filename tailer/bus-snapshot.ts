/**
 * The node's tail, recovery and lag over several buses (tailer/buses.ts), as /stats, the heartbeat and
 * the metrics read them: counters summed over the open tails and the ones closed before (so a node's
 * totals never go down), the recovery window summed, the lag of the most lagging tail. Pure.
 */
import type { TailStats } from "../shared/bus/tail-loop.ts";
import type { Lag } from "./lag.ts";
import type { LiveStats } from "./live.ts";
import type { RecoveryStats } from "./recovery.ts";

export type TailCounters = Pick<TailStats, "reopens" | "gaps" | "missed" | "refilled">;

const COUNTERS = ["reopens", "gaps", "missed", "refilled"] as const;

export const zeroCounters = (): TailCounters => ({ reopens: 0, gaps: 0, missed: 0, refilled: 0 });

export function addCounters(into: TailCounters, from: TailCounters): void {
  for (const k of COUNTERS) into[k] += from[k];
}

export interface SnapshotParts {
  /** The snapshots of the tails open now. */
  open: LiveStats[];
  /** Each bus's counters of its tails closed before. */
  retired: TailCounters[];
  /** Every bus is tailed for good (not on demand). */
  always: boolean;
  /** The node's recovery counters (shared by every bus's live view). */
  stats: RecoveryStats;
  windowCapacity: number;
  windowCapacityBytes: number;
}

export function combineSnapshots(parts: SnapshotParts): LiveStats {
  const { open } = parts;
  const tails = open.map((s) => s.tail).filter((t): t is TailStats => t !== null);
  const counters = zeroCounters();
  for (const r of parts.retired) addCounters(counters, r);
  for (const t of tails) addCounters(counters, t);
  let lag: Lag | null = null;
  for (const s of open) if (s.lag && (lag === null || s.lag.ms > lag.ms)) lag = s.lag;
  const sum = (f: (r: LiveStats["recovery"]) => number) => open.reduce((n, s) => n + f(s.recovery), 0);
  return {
    // A node that tails for good and has not started yet has no tail, as before.
    tail:
      parts.always && tails.length === 0
        ? null
        : {
            live: tails.length > 0 && tails.every((t) => t.live),
            // Positions are per bus: no one position is the node's.
            position: null,
            ...counters,
            lastError: tails.find((t) => t.lastError !== null)?.lastError ?? null,
            cursorId: null,
          },
    recovery: {
      ...parts.stats,
      windowSize: sum((r) => r.windowSize),
      windowCapacity: parts.windowCapacity,
      windowBytes: sum((r) => r.windowBytes),
      windowCapacityBytes: parts.windowCapacityBytes,
    },
    lag,
  };
}
