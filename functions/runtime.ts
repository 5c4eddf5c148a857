/**
 * Wiring the app to the bus from configuration, shared by every runtime entry. The MongoClient and
 * the bus setup are lazy and cached per process (per warm instance on serverless); a failed setup is
 * retried on the next request instead of poisoning the instance.
 */
import type { Collection } from "mongodb";
import { createTokenVerifier } from "../shared/auth/jwt.ts";
import { loadJwtConfig } from "../shared/auth/jwt-config.ts";
import { AUTH_OFF_WARNING, requirePublisherAuth } from "../shared/auth/mode.ts";
import { BusWriter } from "../shared/bus/append.ts";
import { type BusHandle, type BusSet, openBusSet } from "../shared/bus/bus-set.ts";
import { busState } from "../shared/bus/collection.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import { ensureIdempotencyStore, IdempotencyStore } from "../shared/bus/idempotency.ts";
import { serverClock } from "../shared/bus/server-clock.ts";
import { type IngestConfig, loadIngestConfig, loadLogConfig } from "../shared/config.ts";
import type { Env } from "../shared/env.ts";
import { createLogger, type Logger } from "../shared/log.ts";
import {
  type MongoHandle,
  type PoolOptions,
  SERVER_SELECTION_TIMEOUT_MS,
  WAIT_QUEUE_TIMEOUT_MS,
} from "../shared/mongo.ts";
import { ensurePresence, presenceReader } from "../shared/presence/collection.ts";
import { withTimeout } from "../shared/promises.ts";
import { createRateLimiter } from "../shared/rate-limit.ts";
import { createIngestApp } from "./app.ts";
import { createIngestMetrics, type IngestMetrics } from "./metrics.ts";

const READY_TIMEOUT_MS = 1500;

/**
 * When a claim's owner is presumed gone: past the longest an append can run — the writer's timeout, a
 * server selection and a wait for a connection (shared/mongo.ts) — with a margin for the network.
 */
export function pendingTimeoutMs(appendTimeoutMs: number): number {
  return appendTimeoutMs + SERVER_SELECTION_TIMEOUT_MS + WAIT_QUEUE_TIMEOUT_MS + 5_000;
}

export interface IngestRuntime {
  app: ReturnType<typeof createIngestApp>;
  config: IngestConfig;
  /** The client of bus 0's deployment: the idempotency store and the fleet heartbeats live there. */
  mongo: MongoHandle;
  log: Logger;
  /** Bus 0, set up on first use; cached per process. */
  bus: () => Promise<Collection<BusDoc>>;
  /** Every bus (README "Partitioned buses"); closing it closes every client, bus 0's included. */
  buses: BusSet;
  /** Bus 0's writer: `writers[0]`. */
  writer: BusWriter;
  /** One writer per bus, in bus order (a drain waits for all of them to be idle). */
  writers: readonly BusWriter[];
  metrics: IngestMetrics;
}

export interface RuntimeOptions {
  /** Instead of one made from TAILCAST_LOG_LEVEL / TAILCAST_LOG_FORMAT. */
  logger?: Logger;
  /** Whether the process is shutting down (functions/drain.ts); only the Node entry drains. */
  draining?: () => boolean;
  /** Connection-pool settings for the runtime (functions/lambda-pool.ts). */
  pool?: PoolOptions;
}

/** Reads and checks all configuration (including credentials) up front: a bad setup fails here, at start. */
export function createIngestRuntime(
  env: Env = process.env,
  { logger, draining, pool }: RuntimeOptions = {},
): IngestRuntime {
  const config = loadIngestConfig(env);
  const log = logger ?? createLogger("functions", { ...loadLogConfig(env), node: config.nodeId });
  const publishers = requirePublisherAuth(env);
  const jwt = publishers === "off" ? undefined : loadJwtConfig(env);
  if (publishers === "off") log.warn(AUTH_OFF_WARNING);
  else
    log.info("publisher authentication on", {
      keys: publishers.ids.length,
      historyTokens: jwt !== undefined,
    });
  const buses = openBusSet(config.buses, "tailcast-functions", log, pool);
  const bus0 = buses.buses[0] as BusHandle;
  const { mongo } = bus0;
  const bus = bus0.collection;
  const clock = serverClock(() => mongo.db());
  const idempotency = mongo.cached((db) =>
    bus().then(async (b) => {
      const pending = pendingTimeoutMs(config.appendTimeoutMs);
      // Records live as long as the window, and never less than a claim may stay pending.
      const ttlSec = Math.max(config.idempotencyWindowSec, Math.ceil(pending / 1000));
      const keys = await ensureIdempotencyStore(db, config.bus.collection, ttlSec, log);
      // An interrupted append is looked for in its channel's bus (a record without a channel: bus 0),
      // read as it is, without setting it up: a bus that cannot be set up holds no message to find.
      const busOfChannel = async (channel: string | undefined) => {
        if (channel === undefined) return b;
        const { mongo: m, config: c } = buses.forChannel(channel);
        return (await m.db()).collection<BusDoc>(c.collection);
      };
      return new IdempotencyStore(keys, busOfChannel, {
        windowSec: config.idempotencyWindowSec,
        pendingTimeoutMs: pending,
        waitMs: 10_000,
        // Claims are stamped and aged on the database's clock: instances' clocks may disagree.
        clock,
      });
    }),
  );
  // Beside bus 0, on its deployment, like the idempotency store and the fleet heartbeats.
  const presence = mongo.cached((db) => ensurePresence(db, config.bus.collection, log));
  const metrics = createIngestMetrics(undefined, buses.buses.length);
  metrics.countClientReplacements(() => buses.clientReplacements());
  // One writer per bus: group commit and offsets are each bus's own (docs/offsets.md).
  const writers = buses.buses.map(
    (b) =>
      new BusWriter(b.collection, {
        writeConcern: { w: b.config.writeConcern, wtimeoutMS: b.config.writeTimeoutMs },
        maxDocsPerInsert: 1000,
        maxAttempts: 100,
        timeoutMs: config.appendTimeoutMs,
        maxQueuedDocs: config.writerQueueMax,
        resetBus: () => b.collection.reset(),
        observer: metrics.appendObserver(b.index),
      }),
  );
  const app = createIngestApp({
    bus: (channel) => (channel === undefined ? bus() : buses.forChannel(channel).collection()),
    writer: async (index = 0) => writers[index] as BusWriter,
    busOf: (channel) => buses.forChannel(channel).index,
    idempotency,
    // Ready while at least one bus answers (with one bus: the bus). A dead deployment stalls only its
    // own channels (503 on them), and every instance shares it: taking instances out of rotation for it
    // would stop the healthy buses too (README "Partitioned buses"). Bounded here, not only by the
    // driver: a probe that hangs on server selection is a failed probe.
    ready: () =>
      withTimeout(
        Promise.any(buses.buses.map(busReady)).catch((err: AggregateError) => {
          throw err.errors[0];
        }),
        READY_TIMEOUT_MS,
      ),
    limits: config.limits,
    maxBodyBytes: config.maxBodyBytes,
    corsOrigins: config.corsOrigins,
    auth: {
      publishers,
      subscribers: jwt && createTokenVerifier(jwt),
      limiter: createRateLimiter(),
      defaultRate: config.publishRate,
      historyRate: config.historyRate,
    },
    log,
    metrics,
    presence: presenceReader(presence, () => clock.now()),
    // On its own port (TAILCAST_METRICS_PORT), the Node entry serves it instead (functions/node.ts).
    metricsRoute: config.metrics.port === undefined ? { token: config.metrics.token } : null,
    ...(draining ? { draining } : {}),
  });
  return { app, config, mongo, log, bus, buses, writer: writers[0] as BusWriter, writers, metrics };
}

/**
 * Whether a bus answers and is there as set up. The setup is cached: look whether the bus is still
 * there. A dropped or replaced bus is not ready; forgetting the setup makes the next use set it up
 * again (or refuse it).
 */
async function busReady(b: BusHandle): Promise<void> {
  const db = await b.mongo.db();
  await b.collection();
  const state = await busState(db, b.config.collection);
  if (state !== "capped") {
    b.collection.reset();
    const which = b.index === 0 ? "the bus" : `bus ${b.index}`;
    throw new Error(`${which} is ${state === "missing" ? "missing" : "not capped"}`);
  }
}
