/**
 * The fleet status (`GET /status.json`, and the page at `/status` that shows it): every live node
 * from its heartbeat (shared/fleet/nodes.ts), the bus from its oldest and newest documents, and the
 * serving node's publish rate; with several buses, a row per bus (tailer/status-bus.ts). Pure:
 * tailer/fleet.ts reads the inputs.
 */
import type { NodeDoc, NodeReport, NodeRole } from "../shared/fleet/nodes.ts";
import {
  type BusEnds,
  type BusRow,
  type BusRowInput,
  type BusStatus,
  busRows,
  busStatus,
} from "./status-bus.ts";

export type { BusEnd, BusRow, BusRowInput, BusStatus } from "./status-bus.ts";

export interface StatusInputs {
  /** The database server's time (the clock heartbeats expire on). */
  now: Date;
  /** The node serving the page. */
  self: string;
  nodes: NodeDoc[];
  /** The bus's oldest and newest documents, or null when they could not be read (`busError` says why). */
  bus: BusEnds;
  busError: string | null;
  /** Why the heartbeats could not be read (`nodes` is then empty), or null. */
  nodesError: string | null;
  /** Bus 0's messages per second reaching the serving node's tail (tailer/delivery-stats.ts), null if unknown. */
  publishRate: number | null;
  /** Every bus of the set, bus 0 first (one bus: that one); none when not given. */
  buses?: readonly BusRowInput[];
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
  /** Bus 0 (the only bus, by default). */
  bus: BusStatus | null;
  busError: string | null;
  /** One row per bus, bus 0 first. */
  buses: BusRow[];
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
    buses: busRows(inputs.buses ?? []),
    nodesError: inputs.nodesError,
    fleet: totals(nodes),
    nodes,
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
