/**
 * A process's fleet heartbeat: its document in `<bus>_nodes` (shared/fleet/nodes.ts), rewritten every
 * `intervalMs` with what it reports, and removed when it stops. The heartbeat is for operators only:
 * it runs beside the process's work and never affects it — a failed write is logged once (and its
 * recovery once), then simply tried again at the next beat.
 *
 * Times are the database server's (shared/bus/server-clock.ts), the clock the TTL index and the
 * readers use, so processes whose clocks disagree still expire each other correctly.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Collection } from "mongodb";
import { sleep } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { ignoreError, withTimeout } from "../promises.ts";
import { VERSION } from "../version.ts";
import type { NodeDoc, NodeReport, NodeRole } from "./nodes.ts";

/**
 * A node is listed until this many intervals after its last beat: one late or failed write does not
 * make it vanish from the status page, a dead process is gone within seconds.
 */
export const EXPIRY_BEATS = 3;

/** How long stop() waits for a beat in flight, then for the removal; expiry removes it anyway. */
const IN_FLIGHT_TIMEOUT_MS = 1000;
const REMOVE_TIMEOUT_MS = 2000;

export interface HeartbeatOptions {
  nodeId: string;
  role: NodeRole;
  /** Where the node can be reached, if it serves HTTP. */
  url: string | null;
  intervalMs: number;
}

export interface HeartbeatDeps {
  /** The heartbeat collection, set up on first use. */
  nodes: () => Promise<Collection<NodeDoc>>;
  /** Milliseconds since the epoch on the database server's clock. */
  now: () => Promise<number>;
  /** What the process reports on each beat. */
  report: () => NodeReport | Promise<NodeReport>;
  log: Logger;
}

export interface Heartbeat {
  /** Writes one heartbeat now (the loop's step; tests call it to avoid waiting). */
  beat(): Promise<void>;
  /** Stops the loop and removes this process's document. Never rejects. */
  stop(): Promise<void>;
}

export function startHeartbeat(options: HeartbeatOptions, deps: HeartbeatDeps): Heartbeat {
  const instance = randomUUID();
  const startedAt = new Date();
  const abort = new AbortController();
  let failing = false;
  let warnedShared = false;

  const beat = async (): Promise<void> => {
    try {
      const nodes = await deps.nodes();
      const now = await deps.now();
      const report = await deps.report();
      const doc: Omit<NodeDoc, "_id"> = {
        ...report,
        instance,
        role: options.role,
        url: options.url,
        version: VERSION,
        startedAt,
        beatAt: new Date(now),
        expiresAt: new Date(now + EXPIRY_BEATS * options.intervalMs),
      };
      const before = await nodes.findOneAndUpdate(
        { _id: options.nodeId },
        { $set: doc },
        // No projection: FerretDB v1 does not implement findAndModify's `fields` (the document is small).
        { upsert: true, returnDocument: "before" },
      );
      if (before && before.instance !== instance && before.expiresAt.getTime() > now && !warnedShared) {
        warnedShared = true;
        deps.log.warn(
          "another live process reports under this node id; give each node its own TAILCAST_NODE_ID",
          {
            node: options.nodeId,
          },
        );
      }
      if (failing) deps.log.info("fleet heartbeat written again", { node: options.nodeId });
      failing = false;
    } catch (err) {
      if (!failing)
        deps.log.warn("fleet heartbeat failed; retrying every interval", { err, node: options.nodeId });
      failing = true;
    }
  };

  const loop = (async () => {
    while (!abort.signal.aborted) {
      await beat();
      await sleep(options.intervalMs, abort.signal);
    }
  })();

  return {
    beat,
    stop: async () => {
      abort.abort();
      // A beat still in flight may write after the removal; it then expires like a crashed node's.
      await withTimeout(loop, IN_FLIGHT_TIMEOUT_MS).catch(ignoreError);
      // Only this process's document: a successor under the same id keeps its own.
      await withTimeout(
        deps.nodes().then((nodes) => nodes.deleteOne({ _id: options.nodeId, instance })),
        REMOVE_TIMEOUT_MS,
      ).catch(ignoreError); // stopping anyway: an unreachable database expires the document instead
    },
  };
}

/**
 * The URL a node reports: its listening address, or the machine's host name when it listens on every
 * interface (what a load balancer or a colleague would use to reach it).
 */
export function advertisedUrl(host: string, port: number): string {
  const name = host === "0.0.0.0" || host === "::" || host === "" ? hostname() : host;
  return `http://${name.includes(":") ? `[${name}]` : name}:${port}`;
}
