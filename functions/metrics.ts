/**
 * Every metric the ingest function exports, in one place (README "Metrics"). Labels are bounded by
 * construction: a route is the Hono pattern (never the raw path, which holds the channel name), a
 * method one of a few, a 503 cause one of UNAVAILABLE_CAUSES.
 */
import { Counter, Histogram } from "prom-client";
import type { AppendObserver } from "../shared/bus/append.ts";
import { isDatabaseError } from "../shared/bus/errors.ts";
import { isTailcastError } from "../shared/errors.ts";
import { dbClientReplacements } from "../shared/metrics/db-clients.ts";
import { createMetricsRegistry, type Registry } from "../shared/metrics/registry.ts";

/** The routes that publish: their 201s are what the publish latency histogram measures. */
export const PUBLISH_ROUTES: ReadonlySet<string> = new Set([
  "/v1/channels/:channel/messages",
  "/v1/messages",
]);

/** The route label of a request that matched no route (a 404). */
export const UNMATCHED_ROUTE = "unmatched";

const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export const methodLabel = (method: string): string => (METHODS.has(method) ? method : "other");

/**
 * Why a request was answered 503. The writer's and the publish path's reasons (TailcastError
 * `reason`), `database` for a failed database operation, `not_ready` for a readiness probe,
 * `node_draining` for what a draining process refuses (functions/drain.ts), and the error code for any
 * other 503 (a bounded set: shared/errors.ts). Every cause listed here is exported from the start, at 0.
 */
export const UNAVAILABLE_CAUSES = [
  "writer_queue_full",
  "append_timeout",
  "offset_contention",
  "bus_missing",
  "idempotency_takeover",
  "database",
  "not_ready",
  "node_draining",
] as const;
const KNOWN_CAUSES: ReadonlySet<string> = new Set(UNAVAILABLE_CAUSES);

export function unavailableCause(err: unknown): string {
  if (isDatabaseError(err)) return "database";
  if (!isTailcastError(err)) return "unknown";
  if (err.reason !== undefined) return KNOWN_CAUSES.has(err.reason) ? err.reason : "other";
  return err.code;
}

/** Seconds from request to acknowledged write: a group commit at majority takes a few ms to ~1 s. */
const PUBLISH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Messages per insert: the writer groups what arrived while the previous insert was in flight. */
const GROUP_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export interface IngestMetrics {
  registry: Registry;
  requests: Counter<"route" | "method" | "status">;
  publishDuration: Histogram;
  unavailable: Counter<"cause">;
  idempotentReplays: Counter;
  /** Handed to bus 0's writer (shared/bus/append.ts): `appendObserver(0)`. */
  append: AppendObserver;
  /** Handed to the writer of bus `bus`: its counts carry the label `bus`. */
  appendObserver(bus: number): AppendObserver;
  /** Where `tailcast_db_client_replacements_total` is read (the bus set). */
  countClientReplacements(read: () => number): void;
}

/**
 * `buses`: how many buses the process writes to (README "Partitioned buses"). The writer's metrics are
 * labelled `bus` with the bus's index ("0" to "63": bounded by TAILCAST_BUSES), each series there from the start.
 */
export function createIngestMetrics(registry: Registry = createMetricsRegistry(), buses = 1): IngestMetrics {
  const registers = [registry];
  const appended = new Counter({
    name: "tailcast_messages_appended_total",
    help: "Messages written to the bus and acknowledged with the configured write concern, by bus.",
    labelNames: ["bus"] as const,
    registers,
  });
  const groups = new Histogram({
    name: "tailcast_append_group_messages",
    help: "Messages per insert group (group commit) of one bus's writer: requests that arrived while the previous insert was in flight.",
    labelNames: ["bus"] as const,
    buckets: GROUP_BUCKETS,
    registers,
  });
  const conflicts = new Counter({
    name: "tailcast_offset_conflicts_total",
    help: "Inserts refused by the unique offset index because another writer claimed the offset first, by bus.",
    labelNames: ["bus"] as const,
    registers,
  });
  const retries = new Counter({
    name: "tailcast_append_retries_total",
    help: "Times the writer read the newest offset again and retried: after an offset conflict, or after setting up a dropped bus again.",
    labelNames: ["bus", "reason"] as const,
    registers,
  });
  for (let i = 0; i < buses; i++) {
    const bus = String(i);
    appended.inc({ bus }, 0);
    groups.zero({ bus });
    conflicts.inc({ bus }, 0);
    for (const reason of ["offset_conflict", "bus_reset"]) retries.inc({ bus, reason }, 0);
  }
  const appendObserver = (index: number): AppendObserver => {
    const bus = String(index);
    return {
      grouped: (messages) => groups.observe({ bus }, messages),
      appended: (messages) => appended.inc({ bus }, messages),
      conflicted: () => conflicts.inc({ bus }),
      retried: (reason) => retries.inc({ bus, reason }),
    };
  };
  const unavailable = new Counter({
    name: "tailcast_unavailable_responses_total",
    help: "Responses answered 503, by cause.",
    labelNames: ["cause"] as const,
    registers,
  });
  for (const cause of UNAVAILABLE_CAUSES) unavailable.inc({ cause }, 0);
  return {
    registry,
    countClientReplacements: dbClientReplacements(registry),
    requests: new Counter({
      name: "tailcast_http_requests_total",
      help: "HTTP requests answered, by route pattern, method and status.",
      labelNames: ["route", "method", "status"] as const,
      registers,
    }),
    publishDuration: new Histogram({
      name: "tailcast_publish_duration_seconds",
      help: "Time from a publish request's arrival to its 201 (the write acknowledged).",
      buckets: PUBLISH_BUCKETS,
      registers,
    }),
    unavailable,
    idempotentReplays: new Counter({
      name: "tailcast_idempotent_replays_total",
      help: "Messages answered with the receipt of an earlier publish with the same Idempotency-Key.",
      registers,
    }),
    append: appendObserver(0),
    appendObserver,
  };
}
