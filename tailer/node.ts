/**
 * A tailer node: wiring and HTTP. The live view of the bus (live.ts) feeds the fan-out of both
 * transports (socketio.ts, ws.ts), whose subscribers are served by one session (session.ts). HTTP:
 * health, readiness, /stats and the demo page. `startTailerNode` is what main.ts runs and what tests
 * start in a child process.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import type { TokenVerifier } from "../shared/auth/jwt.ts";
import { ensureBus } from "../shared/bus/collection.ts";
import { busHistory } from "../shared/bus/history.ts";
import type { TailerConfig } from "../shared/config.ts";
import { ErrorCode, errorBody, TailcastError } from "../shared/errors.ts";
import { createHttpServer } from "../shared/http-server.ts";
import { cachedUntilFailure } from "../shared/lazy.ts";
import type { Logger } from "../shared/log.ts";
import { createMongo } from "../shared/mongo.ts";
import { ignoreError, withTimeout } from "../shared/promises.ts";
import { createConnectionLimit } from "./connection-limit.ts";
import { demoRoutes } from "./demo.ts";
import { CompositeFanout, SocketIoFanout } from "./fanout.ts";
import { LiveTail } from "./live.ts";
import { SubscriberSessions } from "./session.ts";
import { defaultStallMs, SlowConsumers } from "./slow-consumer.ts";
import { attachSocketIo } from "./socketio.ts";
import { attachWs } from "./ws.ts";

export interface TailerNode {
  port: number;
  /** Rejects if the node cannot tail the bus at all (misconfiguration); never resolves otherwise. */
  fatal: Promise<never>;
  stop(): Promise<void>;
}

/** Largest request a client may send, on either transport. */
const MAX_PAYLOAD_BYTES = 64 * 1024;

/**
 * How long stop() waits for the tail to end by itself. A query that ignores the abort signal (a database
 * that stopped answering) must not keep clients from being told; closing the database client ends it.
 */
const STOP_TAIL_MS = 1500;

const notLive = () =>
  new TailcastError(ErrorCode.busUnavailable, "This node has no live cursor on the bus.", { retryAfter: 1 });

export async function startTailerNode(
  config: TailerConfig,
  log: Logger,
  subscribers: TokenVerifier | "off",
): Promise<TailerNode> {
  const mongo = createMongo(config.bus.mongodbUri, config.bus.db, `tailcast-tailer-${config.nodeId}`);
  const bus = cachedUntilFailure(async () => ensureBus(await mongo.db(), config.bus, log));
  const live = new LiveTail({
    db: () => mongo.db(),
    bus,
    deliver: (envelope) => fanout.deliver(envelope),
    gap: (gap) => sessions.gap(gap),
    log,
    options: {
      collection: config.bus.collection,
      awaitMs: config.awaitMs,
      batchSize: config.batchSize,
      recoveryWindow: config.recoveryWindow,
      recoveryWindowBytes: config.recoveryWindowBytes,
      lagIntervalMs: config.lagIntervalMs,
    },
  });

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ ok: true, node: config.nodeId }));
  // Not ready from the moment stop() begins, so the load balancer sends nobody new while it runs.
  let stopping = false;
  app.get("/readyz", (c) =>
    !stopping && live.live()
      ? c.json({ ok: true, node: config.nodeId })
      : c.json(errorBody(notLive()), 503, { "Retry-After": "1" }),
  );
  app.get("/stats", (c) =>
    c.json({
      node: config.nodeId,
      clients: io.engine.clientsCount,
      wsClients: ws.clientsCount,
      slowConsumers: {
        ...slowConsumers.counts,
        maxPendingBytes: slowConsumers.maxPendingBytes,
        ...sessions.outbound(),
      },
      ...live.snapshot(),
    }),
  );
  app.route("/", demoRoutes(config, subscribers === "off"));

  const http = createHttpServer(app.fetch);
  const slowConsumers = new SlowConsumers(
    { maxPendingBytes: config.maxPendingBytes, stallMs: defaultStallMs },
    (conn, pending) =>
      log.info("slow consumer disconnected", {
        transport: conn.transport,
        pending,
        maxPendingBytes: config.maxPendingBytes,
      }),
  );
  const sessions = new SubscriberSessions({
    history: busHistory(bus),
    tail: live,
    limits: config.limits,
    subscribers,
    maxSubscriptions: config.maxSubscriptions,
    subscribeRate: config.subscribeRate,
    admitConnection: createConnectionLimit(config.maxConnectionsPerIp),
    replayBudget: slowConsumers.replayBudget,
    log,
  });
  const io = attachSocketIo(http, {
    sessions,
    allowedOrigins: config.allowedOrigins,
    maxPayload: MAX_PAYLOAD_BYTES,
    slowConsumers,
    log,
  });
  const ws = attachWs(http, {
    sessions,
    allowedOrigins: config.allowedOrigins,
    slowConsumers,
    log: log.child("ws"),
    options: {
      heartbeatMs: config.wsHeartbeatMs,
      maxPayload: MAX_PAYLOAD_BYTES,
      foreignPrefixes: [`${io.path()}/`],
    },
  });
  const fanout = new CompositeFanout([new SocketIoFanout(io), ws.fanout]);

  http.listen(config.port, config.host);
  await once(http, "listening");
  const port = (http.address() as AddressInfo).port;
  log.info("tailer listening", { node: config.nodeId, url: `http://localhost:${port}/` });

  // The bus may not be reachable yet: the live view keeps trying, then tails it for good.
  const started = live.start();
  return {
    port,
    fatal: started.then(() => new Promise<never>(() => {})),
    stop: async () => {
      stopping = true;
      await withTimeout(live.stop(), STOP_TAIL_MS).catch((err: unknown) =>
        log.warn("the tail did not stop in time; closing the database client", { err }),
      );
      await ws.close();
      io.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await withTimeout(mongo.close(), STOP_TAIL_MS).catch(ignoreError); // exiting: nothing waits on it
    },
  };
}
