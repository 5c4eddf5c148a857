/**
 * The tailer's part in the fleet status: its heartbeat (shared/fleet/heartbeat.ts) with what it
 * serves and how its tail is doing, and the routes that show the whole fleet (`GET /status`, the
 * page, and `GET /status.json`), behind the operator token (shared/auth/admin-token.ts).
 */
import { readFileSync } from "node:fs";
import type { Context } from "hono";
import { Hono } from "hono";
import type { Collection } from "mongodb";
import { type AdminAccess, checkAdmin } from "../shared/auth/admin-token.ts";
import { newestPosition, oldestPosition } from "../shared/bus/collection.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import { serverClock } from "../shared/bus/server-clock.ts";
import type { TailerConfig } from "../shared/config.ts";
import { toErrorBody } from "../shared/errors.ts";
import { type Heartbeat, startHeartbeat } from "../shared/fleet/heartbeat.ts";
import { ensureNodes, liveNodes, type NodeReport, NodeRole } from "../shared/fleet/nodes.ts";
import type { Logger } from "../shared/log.ts";
import type { MongoHandle } from "../shared/mongo.ts";
import { withTimeout } from "../shared/promises.ts";
import type { BusStats } from "./bus-report.ts";
import type { DeliveryStats } from "./delivery-stats.ts";
import type { LiveStats } from "./live.ts";
import { buildStatus, type FleetStatus } from "./status.ts";
import type { BusEnds } from "./status-bus.ts";

const page = readFileSync(new URL("./public/status.html", import.meta.url), "utf8");

/** Longest a status read waits for the database: the page reports a slow bus, it does not hang. */
const READ_TIMEOUT_MS = 2000;

export interface TailerFleetDeps {
  config: TailerConfig;
  /** Bus 0's client: the fleet's heartbeats live beside bus 0. */
  mongo: MongoHandle;
  /** Every bus of the set, bus 0 first (one bus: that one). */
  buses: ReadonlyArray<() => Promise<Collection<BusDoc>>>;
  /** The node's tails (tailer/buses.ts): one bus's position, several buses' counters summed, each bus's view. */
  live: { snapshot(): LiveStats; live(): boolean; busStats(): BusStats[] };
  delivery: DeliveryStats;
  /** Open connections (both transports) and the channels they hold. */
  serving: () => { connections: number; subscriptions: number };
  admin: AdminAccess;
  log: Logger;
}

export interface TailerFleet {
  routes: Hono;
  /** Starts the heartbeat once the node listens at `url`. */
  start(url: string): void;
  stop(): Promise<void>;
}

export function tailerFleet(deps: TailerFleetDeps): TailerFleet {
  const { config, live, delivery } = deps;
  const clock = serverClock(() => deps.mongo.db());
  const nodes = deps.mongo.cached((db) => ensureNodes(db, config.bus.collection, deps.log));
  let lastError: NodeReport["lastError"] = null;
  let heartbeat: Heartbeat | undefined;

  const report = (): NodeReport => {
    const { tail, lag } = live.snapshot();
    const now = Date.now();
    // The tail keeps its last error's text; the time is when this node first reported it.
    if (tail?.lastError && tail.lastError !== lastError?.message) {
      lastError = { message: tail.lastError, at: new Date(now) };
    }
    const recent = delivery.summary(now);
    return {
      ...deps.serving(),
      live: live.live(),
      position: tail?.position ?? null,
      lag: lag && { offsets: lag.offsets, ms: lag.ms },
      gaps: tail?.gaps ?? null,
      missed: tail?.missed ?? null,
      publishRate: recent.publishRate,
      delivery: recent.delivery,
      lastError,
    };
  };

  const read = async (): Promise<FleetStatus> => {
    const [now, ...ends] = await Promise.allSettled([
      withTimeout(clock.now(), READ_TIMEOUT_MS),
      ...deps.buses.map((bus) => withTimeout(readEnds(bus), READ_TIMEOUT_MS)),
    ]);
    const found = ends[0] as PromiseSettledResult<BusEnds>;
    const at = new Date(now.status === "fulfilled" ? now.value : Date.now());
    const fleet = await withTimeout(
      nodes().then((c) => liveNodes(c, at)),
      READ_TIMEOUT_MS,
    ).then(
      (list) => ({ list, error: null }),
      (err: unknown) => ({ list: [], error: messageOf(err) }),
    );
    const views = live.busStats();
    // One bus: the node's rate is the bus's, as it always was; several: each bus's own (bus 0's included).
    const rates =
      views.length === 1 ? [delivery.summary(Date.now()).publishRate] : views.map((v) => v.publishRate);
    return buildStatus({
      now: at,
      self: config.nodeId,
      nodes: fleet.list,
      bus: found.status === "fulfilled" ? found.value : null,
      busError: found.status === "rejected" ? messageOf(found.reason) : null,
      nodesError: fleet.error,
      publishRate: rates[0] ?? null,
      buses: views.map(({ live: _, ...view }, i) => {
        const read = ends[i];
        return {
          ...view,
          publishRate: rates[i] ?? null,
          ends: read?.status === "fulfilled" ? read.value : null,
          error: read?.status === "rejected" ? messageOf(read.reason) : null,
        };
      }),
    });
  };

  const guarded = (c: Context, respond: () => Response | Promise<Response>) => {
    try {
      checkAdmin(deps.admin, c.req.header("authorization"), "The status page");
    } catch (err) {
      const { status, body } = toErrorBody(err);
      const headers: Record<string, string> = status === 401 ? { "WWW-Authenticate": "Bearer" } : {};
      return c.json(body, status as 401 | 403, headers);
    }
    return respond();
  };

  const routes = new Hono();
  routes.get("/status", (c) => guarded(c, () => c.html(page)));
  routes.get("/status.json", (c) =>
    guarded(c, async () => c.json(await read(), 200, { "Cache-Control": "no-store" })),
  );

  return {
    routes,
    start(url) {
      heartbeat ??= startHeartbeat(
        { nodeId: config.nodeId, role: NodeRole.tailer, url, intervalMs: config.heartbeatMs },
        { nodes, now: () => clock.now(), report, log: deps.log },
      );
    },
    stop: async () => heartbeat?.stop(),
  };
}

async function readEnds(bus: () => Promise<Collection<BusDoc>>): Promise<BusEnds> {
  const c = await bus();
  return { newest: await newestPosition(c), oldest: await oldestPosition(c) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
