/**
 * Writes this node's presence (README "Presence") into `<bus 0>_presence`: every interval, one
 * unordered bulkWrite of what planPresence (shared/presence/plan.ts) says — upserts for channels whose
 * count changed, spread refreshes of the others, deletes for channels that emptied — and nothing when
 * nothing is due. Never a write per connection event. Like the fleet heartbeat, it runs beside the
 * node's work and never affects it: a failed write is logged once and planned again at the next
 * interval (every operation in it is idempotent). On start it removes what an earlier process under
 * the same node id left behind; on stop it removes the node's documents.
 */
import type { AnyBulkWriteOperation, Collection } from "mongodb";
import { sleep } from "../shared/backoff.ts";
import type { Logger } from "../shared/log.ts";
import { MAX_PRESENCE_SUBJECTS, type PresenceDoc, presenceId } from "../shared/presence/collection.ts";
import {
  commitPresencePlan,
  type PresencePlan,
  planPresence,
  planSize,
  presenceTtlMs,
  type WrittenPresence,
} from "../shared/presence/plan.ts";
import { ignoreError, withTimeout } from "../shared/promises.ts";
import type { PresenceTally } from "./presence-tally.ts";

/** How long stop() waits for a write in flight, then for the removal; expiry removes them anyway. */
const IN_FLIGHT_TIMEOUT_MS = 1000;
const REMOVE_TIMEOUT_MS = 2000;

export interface PresenceWriterOptions {
  nodeId: string;
  intervalMs: number;
}

export interface PresenceWriterDeps {
  /** The presence collection, set up on first use. */
  presence: () => Promise<Collection<PresenceDoc>>;
  /** Milliseconds since the epoch on the database server's clock. */
  now: () => Promise<number>;
  tally: PresenceTally;
  log: Logger;
  /** Runs after each round, written or not (the node's presence updates, presence-watch.ts). Never rejects. */
  afterRound?: () => Promise<void>;
}

export interface PresenceWriter {
  /** One round now (the loop's step): the plan written, or null if the write failed. */
  write(): Promise<PresencePlan | null>;
  /** Stops the loop and removes this node's documents. Never rejects. */
  stop(): Promise<void>;
}

export interface PresenceWrites {
  /** One round now: the plan written, or null if the write failed (logged once until it works again). */
  write(): Promise<PresencePlan | null>;
  /** Removes this node's documents. */
  remove(): Promise<void>;
}

/** The writer's rounds without its loop (the loop is startPresenceWriter; bench/presence-writes.ts drives rounds itself). */
export function presenceWrites(options: PresenceWriterOptions, deps: PresenceWriterDeps): PresenceWrites {
  const { nodeId, intervalMs } = options;
  const ttlMs = presenceTtlMs(intervalMs);
  const written: WrittenPresence = new Map();
  let cleared = false;
  let failing = false;

  const operations = (plan: PresencePlan, now: number): AnyBulkWriteOperation<PresenceDoc>[] => {
    const expiresAt = new Date(now + ttlMs);
    const ops: AnyBulkWriteOperation<PresenceDoc>[] = [];
    for (const { channel, subscribers } of [...plan.changed, ...plan.refreshes]) {
      const subjects = deps.tally.subjects(channel, MAX_PRESENCE_SUBJECTS);
      // updateMany on a unique `_id` updates or inserts exactly one document, like updateOne, on MongoDB
      // too (only without retryable writes, which a failed round does not need: it is planned again).
      // FerretDB keeps each matched updateOne's read open until the whole command ends, and its SQLite
      // pool has 100 connections: unpatched, the 100th matched updateOne of one round hangs the whole
      // database (docs/ferretdb.md). An updateMany reads on to the end, which releases it at once.
      ops.push({
        updateMany: {
          filter: { _id: presenceId(channel, nodeId) },
          update: { $set: { channel, node: nodeId, subscribers, expiresAt, ...(subjects && { subjects }) } },
          upsert: true,
        },
      });
    }
    for (const channel of plan.deletes)
      ops.push({ deleteOne: { filter: { _id: presenceId(channel, nodeId) } } });
    return ops;
  };

  const write = async (): Promise<PresencePlan | null> => {
    try {
      const presence = await deps.presence();
      if (!cleared) {
        // An earlier process under this node id (a crash, a restart) may have left documents.
        await presence.deleteMany({ node: nodeId });
        cleared = true;
      }
      const now = await deps.now();
      // Planned and turned into operations synchronously: the counts cannot move in between.
      const plan = planPresence(written, deps.tally.counts, now, intervalMs);
      if (planSize(plan) > 0) {
        await presence.bulkWrite(operations(plan, now), { ordered: false });
        commitPresencePlan(written, plan, now);
      }
      if (failing) deps.log.info("presence written again", { node: nodeId });
      failing = false;
      return plan;
    } catch (err) {
      if (!failing) deps.log.warn("presence write failed; retrying every interval", { err, node: nodeId });
      failing = true;
      return null;
    }
  };

  return {
    write,
    remove: async () => {
      await (await deps.presence()).deleteMany({ node: nodeId });
    },
  };
}

export function startPresenceWriter(
  options: PresenceWriterOptions,
  deps: PresenceWriterDeps,
): PresenceWriter {
  const rounds = presenceWrites(options, deps);
  const abort = new AbortController();
  const loop = (async () => {
    while (!abort.signal.aborted) {
      await rounds.write();
      await deps.afterRound?.();
      await sleep(options.intervalMs, abort.signal);
    }
  })();

  return {
    write: rounds.write,
    stop: async () => {
      abort.abort();
      await withTimeout(loop, IN_FLIGHT_TIMEOUT_MS).catch(ignoreError);
      // Stopping anyway: an unreachable database expires the documents instead.
      await withTimeout(rounds.remove(), REMOVE_TIMEOUT_MS).catch(ignoreError);
    },
  };
}
