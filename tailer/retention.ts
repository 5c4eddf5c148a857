/**
 * How much history the bus retains, in seconds: what a client's `since` recovery (and a node's own
 * resume) can cover (README "Guarantees", "Retention is the bus"). Read when metrics are scraped.
 */
import type { Collection } from "mongodb";
import type { BusDoc } from "../shared/bus/doc.ts";

export interface BusEnds {
  oldest: { offset: number; ts: Date };
  newest: { offset: number; ts: Date };
}

/**
 * Seconds between the oldest and the newest retained message. While the epoch's sentinel (offset 0)
 * is still the oldest document, nothing was ever evicted: everything since the bus was made is
 * retained, which is +Inf (never below an alert's threshold). Pure.
 */
export function retentionSeconds({ oldest, newest }: BusEnds): number {
  if (oldest.offset === 0) return Number.POSITIVE_INFINITY;
  return Math.max(0, newest.ts.getTime() - oldest.ts.getTime()) / 1000;
}

/** Both ends in natural order (one document each: shared/bus/collection.ts newestPosition); null while the bus is empty or missing. */
export async function readBusEnds(bus: Collection<BusDoc>, maxTimeMS: number): Promise<BusEnds | null> {
  const end = (direction: 1 | -1) =>
    bus.findOne(
      {},
      { sort: { $natural: direction }, projection: { _id: 0, offset: 1, ts: 1 }, maxTimeMS },
    ) as Promise<{ offset: number; ts: Date } | null>;
  const [oldest, newest] = await Promise.all([end(1), end(-1)]);
  return oldest && newest ? { oldest, newest } : null;
}
