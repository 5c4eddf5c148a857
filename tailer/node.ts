/**
 * A tailer node: HTTP (health, stats, the demo page), Socket.IO, and the tail loop feeding the fan-out.
 * `startTailerNode` is what main.ts runs and what tests start in a child process.
 */
import { EventEmitter, once } from "node:events";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import type { TokenVerifier } from "../shared/auth/jwt.ts";
import { backoffDelay, defaultBackoff, sleep } from "../shared/backoff.ts";
import { ensureBus, newestPosition } from "../shared/bus/collection.ts";
import { BusTail } from "../shared/bus/tail-loop.ts";
import type { TailerConfig } from "../shared/config.ts";
import { isTailcastError } from "../shared/errors.ts";
import { createHttpServer } from "../shared/http-server.ts";
import { cachedUntilFailure } from "../shared/lazy.ts";
import type { Logger } from "../shared/log.ts";
import { createMongo } from "../shared/mongo.ts";
import type { Position } from "../shared/offsets.ts";
import { createConnectionLimit } from "./connection-limit.ts";
import { demoRoutes } from "./demo.ts";
import { CompositeFanout, SocketIoFanout } from "./fanout.ts";
import { computeLag, type Lag } from "./lag.ts";
import { newRecoveryStats } from "./recovery.ts";
import { attachSocketIo } from "./socketio.ts";
import { RecentWindow } from "./window.ts";
import { attachWs } from "./ws.ts";

export interface TailerNode {
  port: number;
  /** Rejects if the node cannot tail the bus at all (misconfiguration); never resolves otherwise. */
  fatal: Promise<never>;
  stop(): Promise<void>;
}

export async function startTailerNode(
  config: TailerConfig,
  log: Logger,
  subscribers: TokenVerifier | "off",
): Promise<TailerNode> {
  const admitConnection = createConnectionLimit(config.maxConnectionsPerIp);
  const mongo = createMongo(config.bus.mongodbUri, config.bus.db, `tailcast-tailer-${config.nodeId}`);
  const stopping = new AbortController();
  let tail: BusTail | undefined;
  const moved = new EventEmitter();
  moved.setMaxListeners(0);
  const window = new RecentWindow(config.recoveryWindow);
  const recoveryStats = newRecoveryStats();
  let lag: Lag | null = null;
  let lastDeliveredTs: Date | null = null;

  const bus = cachedUntilFailure(async () => ensureBus(await mongo.db(), config.bus, log));
  const tailView = {
    live: () => tail?.stats.live === true,
    /** Subscribers can join once the node knows its position, even while its cursor re-opens. */
    ready: () => tail?.stats.position != null,
    position: () => tail?.stats.position as Position,
    window,
    stats: recoveryStats,
    advanced: async () => {
      await once(moved, "moved", {
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(1000)]),
      }).catch(() => {});
    },
  };

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ ok: true, node: config.nodeId }));
  app.get("/readyz", (c) =>
    tailView.live()
      ? c.json({ ok: true, node: config.nodeId })
      : c.json(
          { error: { code: "bus_unavailable", message: "This node has no live cursor on the bus." } },
          503,
          {
            "Retry-After": "1",
          },
        ),
  );
  app.get("/stats", (c) =>
    c.json({
      node: config.nodeId,
      clients: io.engine.clientsCount,
      wsClients: ws.clientsCount,
      tail: tail?.stats ?? null,
      recovery: { ...recoveryStats, windowSize: window.size, windowCapacity: config.recoveryWindow },
      lag,
    }),
  );
  app.route("/", demoRoutes(config, subscribers === "off"));

  const http = createHttpServer(app.fetch);
  const io = attachSocketIo(http, {
    bus,
    tail: tailView,
    limits: config.limits,
    allowedOrigins: config.allowedOrigins,
    subscribers,
    maxSubscriptions: config.maxSubscriptions,
    admitConnection,
    log,
  });
  const ws = attachWs(http, {
    bus,
    tail: tailView,
    limits: config.limits,
    subscribers,
    allowedOrigins: config.allowedOrigins,
    admitConnection,
    log: log.child("ws"),
    options: {
      heartbeatMs: config.wsHeartbeatMs,
      maxSubscriptions: config.maxSubscriptions,
      foreignPrefixes: [`${io.path()}/`],
    },
  });
  const fanout = new CompositeFanout([new SocketIoFanout(io), ws.fanout]);

  http.listen(config.port, config.host);
  await once(http, "listening");
  const port = (http.address() as AddressInfo).port;
  log.info("tailer listening", { node: config.nodeId, url: `http://localhost:${port}/` });

  // The bus may not be reachable yet: keep trying to set it up, then tail it for good.
  let lagProbe: NodeJS.Timeout | undefined;
  const starting = (async () => {
    for (let attempt = 0; !stopping.signal.aborted; attempt++) {
      try {
        await bus();
        const db = await mongo.db();
        tail = new BusTail(
          db,
          { collection: config.bus.collection, awaitMs: config.awaitMs, batchSize: config.batchSize },
          {
            onMessage: (envelope) => {
              window.push(envelope);
              lastDeliveredTs = new Date(envelope.ts);
              fanout.deliver(envelope);
              moved.emit("moved");
            },
            // What the window holds must be contiguous: restart it after a hole.
            onGap: ({ to }) => window.reset({ offset: to.offset - 1, epoch: to.epoch }),
          },
          log.child("tail"),
        );
        tail.start();
        lagProbe = setInterval(() => {
          void bus()
            .then(newestPosition)
            .then((newest) => {
              if (newest) lag = computeLag(newest, tail?.stats.position ?? null, lastDeliveredTs, new Date());
            })
            .catch(() => {}); // an unreachable bus shows as a stale `lag.checkedAt` and in /readyz
        }, config.lagIntervalMs);
        lagProbe.unref();
        return;
      } catch (err) {
        if (isTailcastError(err)) throw err; // misconfiguration (e.g. a non-capped collection): waiting will not help
        log.warn("bus not reachable yet", { err, attempt });
        await sleep(backoffDelay(attempt, defaultBackoff), stopping.signal);
      }
    }
  })();

  return {
    port,
    fatal: starting.then(() => new Promise<never>(() => {})),
    stop: async () => {
      stopping.abort();
      clearInterval(lagProbe);
      await starting.catch(() => {});
      await tail?.stop();
      await ws.close();
      io.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await mongo.close();
    },
  };
}
