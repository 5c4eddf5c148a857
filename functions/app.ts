/**
 * The ingest function: one Hono app, importable without a server or a database. Runtime entries
 * (node.ts, lambda.ts, fetch.ts) only wrap it.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { Collection } from "mongodb";
import type { BusWriter } from "../shared/bus/append.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import type { IdempotencyStore } from "../shared/bus/idempotency.ts";
import type { Logger } from "../shared/log.ts";
import type { MessageLimits } from "../shared/message.ts";
import { metricsRoutes } from "../shared/metrics/route.ts";
import type { PresenceReader } from "../shared/presence/collection.ts";
import type { IngestEnv } from "./env.ts";
import type { IngestMetrics } from "./metrics.ts";
import { type AuthOptions, callerAuth } from "./middleware/auth.ts";
import { drainGate } from "./middleware/draining.ts";
import { notFound, onError } from "./middleware/errors.ts";
import { httpMetrics } from "./middleware/metrics.ts";
import { requestIds, requestLog } from "./middleware/request-log.ts";
import { healthRoutes } from "./routes/health.ts";
import { historyRoutes } from "./routes/history.ts";
import { ingestRoutes } from "./routes/ingest.ts";
import { presenceRoutes } from "./routes/presence.ts";

export interface IngestAppDeps {
  /** The bus `channel` lives in (bus 0 without one), set up on first use. */
  bus: (channel?: string) => Promise<Collection<BusDoc>>;
  /** The writer of bus `bus`, its index in the bus set (bus 0 without one). */
  writer: (bus?: number) => Promise<BusWriter>;
  /** The index of the bus `channel` lives in (shared/bus/partition.ts); all in bus 0 without it. */
  busOf?: (channel: string) => number;
  idempotency: () => Promise<IdempotencyStore>;
  /** Resolves when the bus answers (several buses: at least one), throws when none does. */
  ready: () => Promise<void>;
  limits: MessageLimits;
  maxBodyBytes: number;
  corsOrigins: string[];
  auth: AuthOptions;
  log: Logger;
  /** True once the process is shutting down (functions/drain.ts); runtimes that never drain leave it out. */
  draining?: () => boolean;
  metrics?: IngestMetrics;
  /** The fleet's presence (README "Presence"); without it GET …/presence is a 404. */
  presence?: PresenceReader;
  /** Serve GET /metrics on this app, with this bearer token (undefined: open); null: not here. */
  metricsRoute?: { token: string | undefined } | null;
}

export function createIngestApp(deps: IngestAppDeps): Hono<IngestEnv> {
  const app = new Hono<IngestEnv>();
  app.use(requestIds());
  app.use(requestLog(deps.log));
  if (deps.metrics) app.use(httpMetrics(deps.metrics));
  app.use(secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  if (deps.corsOrigins.length > 0) {
    app.use(
      "/v1/*",
      cors({
        origin: deps.corsOrigins.includes("*") ? "*" : deps.corsOrigins,
        allowMethods: ["GET", "POST", "OPTIONS"],
        allowHeaders: ["Content-Type", "Authorization", "Idempotency-Key", "X-Request-Id"],
        exposeHeaders: ["X-Request-Id"],
        maxAge: 600,
      }),
    );
  }
  if (deps.draining) app.use(drainGate(deps.draining));
  app.use("/v1/*", callerAuth(deps.auth));
  app.route("/", healthRoutes(deps.ready));
  if (deps.metrics && deps.metricsRoute) {
    app.route("/", metricsRoutes(deps.metrics.registry, deps.metricsRoute.token));
  }
  app.route("/", ingestRoutes(deps));
  app.route("/", historyRoutes(deps));
  if (deps.presence) app.route("/", presenceRoutes({ presence: deps.presence, limits: deps.limits }));
  app.notFound(notFound);
  app.onError(onError(deps.log));
  return app;
}
