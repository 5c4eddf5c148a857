/**
 * The status page's bus figures (README "Status page"), pure: a bus's span from its oldest and newest
 * documents and the retention they give at its publish rate, and — with several buses — one row per bus
 * with what the serving node sees of it. tailer/fleet.ts reads the inputs.
 */
import type { BusStats } from "./bus-report.ts";

export interface BusEnd {
  offset: number;
  epoch: string;
  ts: Date;
}

export interface BusStatus {
  epoch: string;
  oldestOffset: number | null;
  newestOffset: number;
  oldestTs: string | null;
  newestTs: string;
  /** Documents the bus holds now, oldest to newest (a client can resume from the one before the oldest). */
  retainedMessages: number | null;
  /** How far back the bus reaches now: the newest document's `ts` minus the oldest's. */
  coveredSeconds: number | null;
  publishRate: number | null;
  /**
   * Seconds of history the retained messages represent at the current publish rate: how long a client
   * may be away and still recover. Null when nothing is being published (retention is then unbounded
   * in time). While the bus is still filling up it holds more later, so this is a lower bound.
   */
  retentionSeconds: number | null;
}

/** A bus's oldest and newest documents, or null when they could not be read. */
export type BusEnds = { oldest: BusEnd | null; newest: BusEnd | null } | null;

export function busStatus(bus: BusEnds, publishRate: number | null): BusStatus | null {
  const newest = bus?.newest;
  if (!newest) return null;
  // Both ends of one incarnation only: a bus recreated between the two reads has no meaningful span.
  const oldest = bus.oldest && bus.oldest.epoch === newest.epoch ? bus.oldest : null;
  const retained = oldest ? newest.offset - oldest.offset + 1 : null;
  return {
    epoch: newest.epoch,
    oldestOffset: oldest?.offset ?? null,
    newestOffset: newest.offset,
    oldestTs: oldest?.ts.toISOString() ?? null,
    newestTs: newest.ts.toISOString(),
    retainedMessages: retained,
    coveredSeconds: oldest ? Math.max(0, newest.ts.getTime() - oldest.ts.getTime()) / 1000 : null,
    publishRate,
    retentionSeconds:
      retained !== null && publishRate !== null && publishRate > 0 ? retained / publishRate : null,
  };
}

/** What the serving node knows of one bus: its own view (tailer/buses.ts), and the bus's ends as just read. */
export interface BusRowInput extends Omit<BusStats, "live"> {
  ends: BusEnds;
  /** Why the ends could not be read, or null. */
  error: string | null;
}

/** One bus's row: its figures (null when unknown: not read, or empty) and the serving node's view of it. */
export interface BusRow {
  index: number;
  collection: string;
  /** The serving node tails it now. */
  tailing: boolean;
  /** It answered the serving node's last check (null before the first). */
  answering: boolean | null;
  epoch: string | null;
  oldestOffset: number | null;
  newestOffset: number | null;
  retainedMessages: number | null;
  coveredSeconds: number | null;
  /** Messages per second reaching the serving node's tail of it; null while it does not tail it. */
  publishRate: number | null;
  retentionSeconds: number | null;
  /** Documents the serving node read from it, and of those the ones it had a subscriber for. */
  read: number;
  delivered: number;
  /** Why its ends could not be read (a bus that is down), or null. */
  error: string | null;
}

export function busRows(inputs: readonly BusRowInput[]): BusRow[] {
  return inputs.map((b) => {
    const s = busStatus(b.ends, b.publishRate);
    return {
      index: b.index,
      collection: b.collection,
      tailing: b.tailing,
      answering: b.answering,
      epoch: s?.epoch ?? null,
      oldestOffset: s?.oldestOffset ?? null,
      newestOffset: s?.newestOffset ?? null,
      retainedMessages: s?.retainedMessages ?? null,
      coveredSeconds: s?.coveredSeconds ?? null,
      publishRate: b.publishRate,
      retentionSeconds: s?.retentionSeconds ?? null,
      read: b.read,
      delivered: b.delivered,
      error: b.error,
    };
  });
}
