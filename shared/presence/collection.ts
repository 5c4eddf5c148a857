/**
 * The fleet's presence collection, `<bus 0>_presence` beside bus 0 (README "Presence"): one document
 * per (node, channel) with the node's subscriber count for the channel — and, when the operator turns
 * them on, the token subjects — written in batches by each tailer (tailer/presence-writer.ts). Like the
 * heartbeats (shared/fleet/nodes.ts), a TTL index on `expiresAt` deletes what dead nodes left behind
 * on MongoDB, and readers never rely on it: they only count documents whose `expiresAt` is ahead on
 * the database server's clock (FerretDB deletes nothing, docs/ferretdb.md).
 */
import type { Collection, Db } from "mongodb";
import { isIndexOptionsConflict, isNotImplemented } from "../bus/errors.ts";
import type { Logger } from "../log.ts";
import { type PresenceSummary, summarizePresence } from "./summary.ts";

export { MAX_PRESENCE_SUBJECTS, type PresenceSummary } from "./summary.ts";

export interface PresenceDoc {
  /** `<channel>|<node>`: channel names never hold `|` (shared/message.ts), so the split is unambiguous. */
  _id: string;
  channel: string;
  node: string;
  subscribers: number;
  /** Distinct token subjects, at most MAX_PRESENCE_SUBJECTS; only with TAILCAST_PRESENCE_SUBJECTS=on. */
  subjects?: string[];
  expiresAt: Date;
}

export const presenceCollectionName = (bus0Collection: string) => `${bus0Collection}_presence`;
export const presenceId = (channel: string, node: string) => `${channel}|${node}`;

/**
 * The collection with its indexes: the TTL on `expiresAt`, `channel` for reads, `node` for a node's
 * removal. A server without TTL indexes (FerretDB) only keeps dead nodes' documents longer.
 */
export async function ensurePresence(
  db: Db,
  bus0Collection: string,
  log?: Logger,
): Promise<Collection<PresenceDoc>> {
  const presence = db.collection<PresenceDoc>(presenceCollectionName(bus0Collection));
  try {
    await presence.createIndex({ expiresAt: 1 }, { name: "expiresAt_ttl", expireAfterSeconds: 0 });
  } catch (err) {
    if (isNotImplemented(err)) {
      log?.debug("TTL indexes not supported by this server; expired presence is skipped when read");
    } else if (!isIndexOptionsConflict(err)) {
      throw err;
    }
  }
  await presence.createIndex({ channel: 1 }, { name: "channel" });
  await presence.createIndex({ node: 1 }, { name: "node" });
  return presence;
}

/** The channel's presence across the fleet at `now` (the database server's time). */
export async function readPresence(
  presence: Collection<PresenceDoc>,
  channel: string,
  now: Date,
): Promise<PresenceSummary> {
  const docs = await presence.find({ channel, expiresAt: { $gt: now } }).toArray();
  return summarizePresence(channel, docs);
}

/** Channels per query of readPresenceOf: bounds the `$in` list and each reply. */
const CHANNELS_PER_QUERY = 500;

/**
 * The presence of several channels at `now`, a query per CHANNELS_PER_QUERY channels rather than one per
 * channel (the tailer's presence updates, tailer/presence-watch.ts). Every channel asked is in the map.
 */
export async function readPresenceOf(
  presence: Collection<PresenceDoc>,
  channels: readonly string[],
  now: Date,
): Promise<Map<string, PresenceSummary>> {
  const docsOf = new Map<string, PresenceDoc[]>(channels.map((channel) => [channel, []]));
  for (let i = 0; i < channels.length; i += CHANNELS_PER_QUERY) {
    const batch = channels.slice(i, i + CHANNELS_PER_QUERY);
    for await (const doc of presence.find({ channel: { $in: batch }, expiresAt: { $gt: now } })) {
      docsOf.get(doc.channel)?.push(doc);
    }
  }
  return new Map([...docsOf].map(([channel, docs]) => [channel, summarizePresence(channel, docs)]));
}

/** Answers a channel's presence (the ingest route, the tailer's `presence` request). */
export type PresenceReader = (channel: string) => Promise<PresenceSummary>;

/** A reader over the collection, judging expiry by `now` (the database server's clock, ms). */
export function presenceReader(
  presence: () => Promise<Collection<PresenceDoc>>,
  now: () => Promise<number>,
): PresenceReader {
  return async (channel) => {
    const [collection, at] = await Promise.all([presence(), now()]);
    return readPresence(collection, channel, new Date(at));
  };
}
