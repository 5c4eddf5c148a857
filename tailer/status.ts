/**
 * The fleet status (`GET /status.json`, and the page at `/status` that shows it): every live node
 * from its heartbeat (shared/fleet/nodes.ts), the bus from its oldest and newest documents, and the
 * serving node's publish rate. Pure: tailer/status-routes.ts reads the inputs.
 */
import type { NodeDoc, NodeReport, NodeRole } from "../shared/fleet/nodes.ts";

export interface BusEnd {
  offset: number;
  epoch: string;
  ts: Date;
}

export interface StatusInputs {
  /** The database server's time (the clock heartbeats expire on). */
  now: Date;
  /** The node serving the page. */
  self: string;
  nodes: NodeDoc[];
  /** The bus's oldest and newest documents, or null when they could not be read (`busError` says why). */
  bus: { oldest: BusEnd | null; newest: BusEnd | null } | null;
  busError: string | null;
  /** Why the heartbeats could not be read (`nodes` is then empty), or null. */
  nodesError: string | null;
  /** Messages per second reaching the serving node's tail (tailer/delivery-stats.ts), null if unknown. */
  publishRate: number | null;
}

export interface BusStatus {
  epoch: string;
  oldestOffset: number | null;
  newestOffset: number;
  oldestTs: string | null;
  newestTs: string;
  /** Documents the bus holds now, oldest to newest (a client can resume from the one before the oldest). */
  retainedMessages: number | null;
  /** How far back the bus reaches now: the newest document's `ts` minus the oldest's. */
  coveredSeconds: number | null;
  publishRate: number | null;
  /**
   * Seconds of history the retained messages represent at the current publish rate: how long a client
   * may be away and still recover. Null when nothing is being published (retention is then unbounded
   * in time). While the bus is still filling up it holds more later, so this is a lower bound.
   */
  retentionSeconds: number | null;
}

/** A node's row: what it reported on its last heartbeat, with times as ISO strings for JSON. */
export interface NodeStatus extends Omit<NodeReport, "lastError"> {
  id: string;
  role: NodeRole;
  /** The node serving this status. */
  self: boolean;
  url: string | null;
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  /** Milliseconds since the node's last heartbeat. */
  beatAgeMs: number;
  lastError: { message: string; at: string } | null;
}

export interface FleetTotals {
  tailers: number;
  functions: number;
  connections: number;
  subscriptions: number;
  gaps: number;
  missed: number;
  /** The worst p99 delivery latency of any tailer (quantiles of different nodes do not add up). */
  worstDeliveryP99Ms: number | null;
  worstLagMs: number | null;
}

export interface FleetStatus {
  generatedAt: string;
  servedBy: string;
  bus: BusStatus | null;
  busError: string | null;
  nodesError: string | null;
  fleet: FleetTotals;
  nodes: NodeStatus[];
}

export function buildStatus(inputs: StatusInputs): FleetStatus {
  const now = inputs.now.getTime();
  const nodes = inputs.nodes
    .filter((n) => n.expiresAt.getTime() > now)
    .map((n) => nodeStatus(n, inputs.self, now))
    .sort((a, b) => (a.role === b.role ? a.id.localeCompare(b.id) : a.role === "tailer" ? -1 : 1));
  return {
    generatedAt: inputs.now.toISOString(),
    servedBy: inputs.self,
    bus: busStatus(inputs.bus, inputs.publishRate),
    busError: inputs.busError,
    nodesError: inputs.nodesError,
    fleet: totals(nodes),
    nodes,
  };
}

function busStatus(bus: StatusInputs["bus"], publishRate: number | null): BusStatus | null {
  const newest = bus?.newest;
  if (!newest) return null;
  // Both ends of one incarnation only: a bus recreated between the two reads has no meaningful span.
  const oldest = bus.oldest && bus.oldest.epoch === newest.epoch ? bus.oldest : null;
  const retained = oldest ? newest.offset - oldest.offset + 1 : null;
  return {
    epoch: newest.epoch,
    oldestOffset: oldest?.offset ?? null,
    newestOffset: newest.offset,
    oldestTs: oldest?.ts.toISOString() ?? null,
    newestTs: newest.ts.toISOString(),
    retainedMessages: retained,
    coveredSeconds: oldest ? Math.max(0, newest.ts.getTime() - oldest.ts.getTime()) / 1000 : null,
    publishRate,
    retentionSeconds:
      retained !== null && publishRate !== null && publishRate > 0 ? retained / publishRate : null,
  };
}

function nodeStatus(n: NodeDoc, self: string, now: number): NodeStatus {
  return {
    id: n._id,
    role: n.role,
    self: n._id === self,
    url: n.url,
    version: n.version,
    startedAt: n.startedAt.toISOString(),
    uptimeSeconds: Math.max(0, Math.round((now - n.startedAt.getTime()) / 1000)),
    beatAgeMs: Math.max(0, now - n.beatAt.getTime()),
    connections: n.connections,
    subscriptions: n.subscriptions,
    live: n.live,
    position: n.position,
    lag: n.lag,
    gaps: n.gaps,
    missed: n.missed,
    publishRate: n.publishRate,
    delivery: n.delivery,
    lastError: n.lastError && { message: n.lastError.message, at: n.lastError.at.toISOString() },
  };
}

function totals(nodes: NodeStatus[]): FleetTotals {
  const tailers = nodes.filter((n) => n.role === "tailer");
  const worst = (values: Array<number | null | undefined>) => {
    const known = values.filter((v): v is number => typeof v === "number");
    return known.length === 0 ? null : Math.max(...known);
  };
  const sum = (values: Array<number | null>) => values.reduce<number>((a, v) => a + (v ?? 0), 0);
  return {
    tailers: tailers.length,
    functions: nodes.length - tailers.length,
    connections: sum(tailers.map((n) => n.connections)),
    subscriptions: sum(tailers.map((n) => n.subscriptions)),
    gaps: sum(tailers.map((n) => n.gaps)),
    missed: sum(tailers.map((n) => n.missed)),
    worstDeliveryP99Ms: worst(tailers.map((n) => n.delivery?.p99Ms)),
    worstLagMs: worst(tailers.map((n) => n.lag?.ms)),
  };
}
