/** Reading what the bus still retains of one channel, and whether a range is complete (G5). */
import type { Collection } from "mongodb";
import type { Envelope } from "../message.ts";
import { canRecover, type Position } from "../offsets.ts";
import { newestPosition, oldestPosition } from "./collection.ts";
import { type BusDoc, type MessageDoc, toEnvelope } from "./doc.ts";

export interface HistoryPage {
  messages: Envelope[];
  /** False when messages after `since` were already evicted, or `since` is from another epoch. */
  recovered: boolean;
  hasMore: boolean;
}

/**
 * With `since`: the channel's messages after it, oldest first. Without: its newest `limit` messages.
 * The newest position is read first, so a message appended meanwhile is either in the page or after it.
 */
export async function readHistory(
  bus: Collection<BusDoc>,
  channel: string,
  since: Position | null,
  limit: number,
): Promise<HistoryPage> {
  const [newest, oldest] = [await newestPosition(bus), await oldestPosition(bus)];
  if (newest === null) return { messages: [], recovered: since === null, hasMore: false };
  const sameEpoch = since !== null && since.epoch === newest.epoch;
  const recovered = since === null || canRecover(since, oldest, newest);
  const filter = { channel, offset: { $gt: sameEpoch ? since.offset : -1, $lte: newest.offset } };
  const docs = (await bus
    .find(filter, { sort: { offset: since === null ? -1 : 1 }, limit: limit + 1 })
    .toArray()) as MessageDoc[];
  const hasMore = docs.length > limit;
  const page = docs.slice(0, limit);
  if (since === null) page.reverse();
  return { messages: page.map(toEnvelope), recovered, hasMore };
}

/** The channel's messages with `after < offset <= upTo`, oldest first, at most `limit`. */
export async function readRange(
  bus: Collection<BusDoc>,
  channel: string,
  after: number,
  upTo: number,
  limit: number,
): Promise<Envelope[]> {
  const docs = (await bus
    .find({ channel, offset: { $gt: after, $lte: upTo } }, { sort: { offset: 1 }, limit })
    .toArray()) as MessageDoc[];
  return docs.map(toEnvelope);
}

/** Is everything after `since` still in the bus? */
export async function isRecoverable(bus: Collection<BusDoc>, since: Position): Promise<boolean> {
  const [newest, oldest] = [await newestPosition(bus), await oldestPosition(bus)];
  return newest !== null && canRecover(since, oldest, newest);
}

/** What client recovery reads from the bus (tailer/recovery.ts), behind an interface it can fake. */
export interface BusHistory {
  /** The live end of the bus, or null while it is empty or missing. */
  newest(): Promise<Position | null>;
  /** Is everything after `since` still in the bus? */
  isRecoverable(since: Position): Promise<boolean>;
  /** The channel's messages with `after < offset <= upTo`, oldest first, at most `limit`. */
  readRange(channel: string, after: number, upTo: number, limit: number): Promise<Envelope[]>;
}

/** BusHistory over the bus, set up on first use. */
export function busHistory(bus: () => Promise<Collection<BusDoc>>): BusHistory {
  return {
    newest: async () => newestPosition(await bus()),
    isRecoverable: async (since) => isRecoverable(await bus(), since),
    readRange: async (channel, after, upTo, limit) => readRange(await bus(), channel, after, upTo, limit),
  };
}
