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
import type { IngestEnv } from "./env.ts";
import { type AuthOptions, callerAuth } from "./middleware/auth.ts";
import { drainGate } from "./middleware/draining.ts";
import { notFound, onError } from "./middleware/errors.ts";
import { requestIds, requestLog } from "./middleware/request-log.ts";
import { healthRoutes } from "./routes/health.ts";
import { historyRoutes } from "./routes/history.ts";
import { ingestRoutes } from "./routes/ingest.ts";

export interface IngestAppDeps {
  bus: () => Promise<Collection<BusDoc>>;
  writer: () => Promise<BusWriter>;
  idempotency: () => Promise<IdempotencyStore>;
  /** Resolves when the bus answers, throws when it does not. */
  ready: () => Promise<void>;
  limits: MessageLimits;
  maxBodyBytes: number;
  corsOrigins: string[];
  auth: AuthOptions;
  log: Logger;
  /** True once the process is shutting down (functions/drain.ts); runtimes that never drain leave it out. */
  draining?: () => boolean;
}

export function createIngestApp(deps: IngestAppDeps): Hono<IngestEnv> {
  const app = new Hono<IngestEnv>();
  app.use(requestIds());
  app.use(requestLog(deps.log));
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
  app.route("/", ingestRoutes(deps));
  app.route("/", historyRoutes(deps));
  app.notFound(notFound);
  app.onError(onError(deps.log));
  return app;
}
