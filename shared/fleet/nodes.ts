/**
 * The fleet's heartbeat collection, `<bus>_nodes` beside the bus: one document per running process
 * (`_id` = its node id), rewritten every heartbeat (shared/fleet/heartbeat.ts) and removed when the
 * process stops. A TTL index on `expiresAt` deletes the documents of processes that died without
 * saying so. MongoDB's TTL monitor runs about once a minute, and FerretDB has no TTL indexes at all
 * (docs/ferretdb.md), so readers never rely on the deletion: they only list documents whose
 * `expiresAt` is still ahead on the database server's clock.
 */
import type { Collection, Db } from "mongodb";
import { isIndexOptionsConflict, isNotImplemented } from "../bus/errors.ts";
import type { Logger } from "../log.ts";
import type { Position } from "../offsets.ts";

export const NodeRole = Object.freeze({ tailer: "tailer", functions: "functions" } as const);
export type NodeRole = (typeof NodeRole)[keyof typeof NodeRole];

/** A recent delivery-latency summary (bus `ts` → emit), as a tailer measures it (tailer/delivery-stats.ts). */
export interface LatencySummary {
  /** Messages measured in the window. */
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** What a process reports about itself on every heartbeat. Tailer-only figures are null on ingest. */
export interface NodeReport {
  connections: number;
  subscriptions: number | null;
  /** True while a tailer has a live cursor on the bus. */
  live: boolean | null;
  position: Position | null;
  lag: { offsets: number; ms: number } | null;
  gaps: number | null;
  missed: number | null;
  /** Messages per second reaching this node's tail, from the bus `ts` of what it delivered. */
  publishRate: number | null;
  delivery: LatencySummary | null;
  lastError: { message: string; at: Date } | null;
}

export interface NodeDoc extends NodeReport {
  _id: string;
  /** Random per process: tells two processes that claim the same node id apart. */
  instance: string;
  role: NodeRole;
  url: string | null;
  version: string;
  startedAt: Date;
  beatAt: Date;
  expiresAt: Date;
}

export const nodesCollectionName = (busCollection: string) => `${busCollection}_nodes`;

const TTL_INDEX = "expiresAt_ttl";

/**
 * The collection, with its TTL index made once (a repeated createIndex with the same options is a
 * no-op). A server without TTL indexes only keeps dead nodes' documents longer; readers skip them.
 */
export async function ensureNodes(db: Db, busCollection: string, log?: Logger): Promise<Collection<NodeDoc>> {
  const nodes = db.collection<NodeDoc>(nodesCollectionName(busCollection));
  try {
    await nodes.createIndex({ expiresAt: 1 }, { name: TTL_INDEX, expireAfterSeconds: 0 });
  } catch (err) {
    if (isNotImplemented(err)) {
      log?.debug("TTL indexes not supported by this server; expired heartbeats are skipped when read");
    } else if (!isIndexOptionsConflict(err)) {
      throw err; // a conflict is an index someone changed by hand: the readers' filter still holds
    }
  }
  return nodes;
}

/** Every node whose heartbeat has not expired at `now` (the database server's time). */
export async function liveNodes(nodes: Collection<NodeDoc>, now: Date): Promise<NodeDoc[]> {
  return nodes.find({ expiresAt: { $gt: now } }).toArray();
}
