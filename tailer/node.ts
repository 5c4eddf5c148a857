/**
 * A tailer node: wiring and HTTP. The live view of each bus (live.ts, behind buses.ts) feeds the fan-out of both
 * transports (socketio.ts, ws.ts), whose subscribers are served by one session (session.ts). HTTP:
 * health, readiness, /stats, the admin endpoints (admin.ts) and the demo page. The graceful drain is
 * drain.ts. `startTailerNode` is what main.ts runs and what tests
 * start in a child process.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import type { TokenVerifier } from "../shared/auth/jwt.ts";
import { openBusSet } from "../shared/bus/bus-set.ts";
import { busIndexOf } from "../shared/bus/partition.ts";
import type { TailerConfig } from "../shared/config.ts";
import { ErrorCode, errorBody, TailcastError } from "../shared/errors.ts";
import { advertisedUrl } from "../shared/fleet/heartbeat.ts";
import { createHttpServer } from "../shared/http-server.ts";
import type { Logger } from "../shared/log.ts";
import { startMetricsServer } from "../shared/metrics/expose.ts";
import { metricsRoutes } from "../shared/metrics/route.ts";
import { ignoreError, withTimeout } from "../shared/promises.ts";
import { adminRoutes } from "./admin.ts";
import { BusTails } from "./buses.ts";
import { createConnectionLimit } from "./connection-limit.ts";
import { DeliveryStats } from "./delivery-stats.ts";
import { demoRoutes } from "./demo.ts";
import { type DrainState, NodeDrain } from "./drain.ts";
import { CompositeFanout, SocketIoFanout } from "./fanout.ts";
import { tailerFleet } from "./fleet.ts";
import { createTailerMetrics } from "./metrics.ts";
import { tailerPresence } from "./presence.ts";
import { defaultRecoveryOptions } from "./recovery.ts";
import { readBusEnds } from "./retention.ts";
import { SubscriberSessions } from "./sessions.ts";
import { defaultStallMs, SlowConsumers } from "./slow-consumer.ts";
import { attachSocketIo } from "./socketio.ts";
import { attachWs } from "./ws.ts";

export interface TailerNode {
  port: number;
  /** The separate /metrics port (TAILCAST_METRICS_PORT); null when /metrics is on `port`. */
  metricsPort: number | null;
  /** Rejects if the node cannot tail the bus at all (misconfiguration); never resolves otherwise. */
  fatal: Promise<never>;
  /** What /readyz answers: a live cursor on the bus (several buses: at least one answers), not draining or stopping. */
  ready(): boolean;
  /** Stops at once (clients get /ws 1001, a Socket.IO disconnect). Idempotent. */
  stop(): Promise<void>;
  /** Begins the graceful drain (README "Drain"), or joins the one under way; resolves once the node has stopped. */
  drain(reason: string): Promise<void>;
  /** Null while the node is not draining. */
  drainState(): DrainState | null;
}

export interface TailerNodeHooks {
  /** Called once when a drain begins (SIGTERM or POST /admin/drain), with its end: main.ts exits then. */
  onDrain?: (stopped: Promise<void>) => void;
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
  hooks: TailerNodeHooks = {},
): Promise<TailerNode> {
  const set = openBusSet(config.buses, `tailcast-tailer-${config.nodeId}`, log);
  // Bus 0's deployment also holds the fleet's heartbeats (and bus 0 is the status page's bus).
  const bus0 = set.buses[0] as (typeof set.buses)[number];
  const bus = bus0.collection;
  const metrics = createTailerMetrics();
  metrics.countClientReplacements(() => set.clientReplacements());
  const delivery = new DeliveryStats(Date.now());
  const several = set.buses.length > 1;
  const live = new BusTails({
    set,
    deliver: (envelope) => {
      fanout.deliver(envelope);
      const sentAt = Date.now();
      const deliveries = fanout.subscribers(envelope.channel);
      metrics.delivered(envelope, deliveries, sentAt);
      delivery.record(Date.parse(envelope.ts), sentAt);
      return deliveries;
    },
    gap: (gap, index) =>
      several
        ? sessions.gap(gap, (channel) => busIndexOf(channel, set.buses.length) === index)
        : sessions.gap(gap),
    log,
    options: {
      onDemand: several,
      idleMs: config.tailIdleMs,
      startWaitMs: defaultRecoveryOptions.catchUpMs,
      awaitMs: config.awaitMs,
      batchSize: config.batchSize,
      recoveryWindow: config.recoveryWindow,
      recoveryWindowBytes: config.recoveryWindowBytes,
      lagIntervalMs: config.lagIntervalMs,
    },
  });

  // Not ready from the moment stop() or a drain begins, so the load balancer sends nobody new.
  let stopping = false;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      // The heartbeat's document and the node's presence go while the rest stops.
      const leaving = Promise.all([fleet.stop(), presence.stop()]);
      await withTimeout(live.stop(), STOP_TAIL_MS).catch((err: unknown) =>
        log.warn("the tail did not stop in time; closing the database client", { err }),
      );
      await ws.close();
      io.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await metricsServer?.close();
      await leaving;
      await withTimeout(set.close(), STOP_TAIL_MS).catch(ignoreError); // exiting: nothing waits on it
    })());
  const drain = new NodeDrain({ config: config.drain, connections: () => sessions, stop, log });
  const startDrain = (reason: string): Promise<void> => {
    const first = !drain.draining;
    const run = drain.start(reason);
    if (first) hooks.onDrain?.(run);
    return run;
  };

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ ok: true, node: config.nodeId }));
  const ready = () => !stopping && !drain.draining && live.live();
  app.get("/readyz", (c) =>
    ready()
      ? c.json({ ok: true, node: config.nodeId })
      : c.json(errorBody(drain.draining ? drain.error() : notLive()), 503, { "Retry-After": "1" }),
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
      buses: live.busStats(),
      presence: { channels: presence.tally.counts.size, watchedChannels: presence.watch.channels },
      draining: drain.state(),
    }),
  );
  const drainInBackground = (reason: string) =>
    void startDrain(reason).catch((err: unknown) => log.error("drain failed", { err }));
  app.route("/", adminRoutes({ access: config.admin, drain: drainInBackground }));
  if (config.metrics.port === undefined) {
    app.route("/", metricsRoutes(metrics.registry, config.metrics.token));
  }
  app.route("/", demoRoutes(config, subscribers === "off"));
  const fleet = tailerFleet({
    config,
    mongo: bus0.mongo,
    buses: set.buses.map((b) => b.collection),
    live,
    delivery,
    serving: () => {
      let subscriptions = 0;
      for (const session of sessions) subscriptions += session.channels.size;
      return { connections: sessions.size, subscriptions };
    },
    admin: config.admin,
    log,
  });
  app.route("/", fleet.routes);

  const presence = tailerPresence({
    config: config.presence,
    nodeId: config.nodeId,
    mongo: bus0.mongo,
    bus0Collection: config.bus.collection,
    log,
  });

  const http = createHttpServer(app.fetch);
  const connectionLimit = createConnectionLimit(config.maxConnectionsPerIp);
  const slowConsumers = new SlowConsumers(
    { maxPendingBytes: config.maxPendingBytes, stallMs: defaultStallMs },
    (conn, pending) => {
      metrics.slowConsumerDisconnected(conn.transport === "ws" ? "ws" : "socketio");
      (conn.log ?? log).info("slow consumer disconnected", {
        transport: conn.transport,
        pending,
        maxPendingBytes: config.maxPendingBytes,
      });
    },
  );
  const sessions = new SubscriberSessions({
    buses: live,
    limits: config.limits,
    subscribers,
    maxSubscriptions: config.maxSubscriptions,
    subscribeRate: config.subscribeRate,
    // A draining node takes nobody new; the refusal is the drain signal (ws.ts, socketio.ts).
    admitConnection: (address) => {
      drain.admit();
      return connectionLimit(address);
    },
    replayBudget: slowConsumers.replayBudget,
    log,
    presence,
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
  metrics.observe({
    live,
    sessions,
    connections: () => ({ socketio: io.of("/").sockets.size, ws: ws.clientsCount }),
    ready,
    draining: () => drain.draining,
    busEnds: async () => readBusEnds(await bus(), STOP_TAIL_MS),
    buses: () => live.reports(),
  });
  const metricsServer = await startMetricsServer(metrics.registry, config.metrics, config.host);

  http.listen(config.port, config.host);
  await once(http, "listening");
  const port = (http.address() as AddressInfo).port;
  log.info("tailer listening", { url: `http://localhost:${port}/` });
  if (metricsServer) log.info("metrics listening", { port: metricsServer.port });
  fleet.start(advertisedUrl(config.host, port));
  presence.start();

  // The bus may not be reachable yet: the live view keeps trying, then tails it for good.
  const started = live.start();
  return {
    port,
    metricsPort: metricsServer?.port ?? null,
    fatal: started.then(() => new Promise<never>(() => {})),
    stop,
    drain: startDrain,
    drainState: () => drain.state(),
    ready,
  };
}
