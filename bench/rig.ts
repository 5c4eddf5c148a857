/**
 * A rig: one system under test, started for one workload — its servers, its client processes and its
 * publisher — and everything needed to stop it. Every process a rig starts is registered in its
 * Stack, and every live Stack is stopped when the runner is interrupted.
 */
import type { Component } from "../infra/local/component.ts";
import type { ClientsConfig } from "./clients/main.ts";
import type { ClientSpec } from "./clients/transports.ts";
import { type BenchChild, startChild } from "./procs.ts";
import type { Watched } from "./sysstat.ts";

export const SYSTEMS = ["floor", "tailcast", "classic", "redis"] as const;
export type SystemId = (typeof SYSTEMS)[number];

export const SYSTEM_LABELS: Record<SystemId, string> = {
  floor: "bus floor (insertOne → tailable reader)",
  tailcast: "tailcast (HTTP → bus → 2 tailers)",
  classic: "classic prototype (find().tailable() + io.emit)",
  redis: "Socket.IO + Redis adapter",
};

/** Short names for chart axes. */
export const SYSTEM_SHORT: Record<SystemId, string> = {
  floor: "bus floor",
  tailcast: "tailcast",
  classic: "classic prototype",
  redis: "Redis adapter",
};

export interface Workload {
  id: "one-channel" | "many-channels";
  channels: number;
  clients: number;
}

export interface Rig {
  system: SystemId;
  workload: Workload;
  /** Processes whose idle CPU is reported. */
  watched: Watched[];
  clients: BenchChild[];
  publisher: BenchChild;
  /** Subscribers per published message, on average: useful deliveries = rate × this. */
  fanout: number;
  /** Things the system itself reports after the run (a dead cursor, say). */
  notes(): Promise<string[]>;
  stop(): Promise<void>;
}

type Stoppable = { stop(): Promise<unknown> };

const live = new Set<Stack>();

/** Stops every process of every rig still running (Ctrl-C, or a failure half-way through a start). */
export async function stopEverything(): Promise<void> {
  await Promise.allSettled([...live].map((s) => s.stop()));
}

export class Stack {
  readonly #parts: Stoppable[] = [];
  constructor() {
    live.add(this);
  }
  add<T extends Stoppable>(part: T): T {
    this.#parts.push(part);
    return part;
  }
  async stop(): Promise<void> {
    live.delete(this);
    const parts = this.#parts.splice(0).reverse();
    // Clients first, then servers, then what they depend on; each group in parallel is fine.
    for (const p of parts) await p.stop().catch(() => {});
  }
}

/** A component (tailcast process) or a child as something to watch. */
export function watchOf(label: string, p: Component | BenchChild | { pid: number | undefined }): Watched[] {
  return p.pid === undefined ? [] : [{ label, pid: p.pid }];
}

/** Starts one client process per group of specs, then connects all of them. */
export async function startClients(
  stack: Stack,
  name: string,
  groups: ClientSpec[][],
  connectConcurrency = 50,
): Promise<BenchChild[]> {
  const total = groups.reduce((n, g) => n + g.length, 0);
  const samplesPerStep = Math.max(50, Math.ceil(60_000 / Math.max(1, total)));
  const children = await Promise.all(
    groups.map((clients, i) => {
      const config: ClientsConfig = { clients, samplesPerStep, connectConcurrency };
      return startChild(`${name}-clients-${i + 1}`, { script: "clients/main.ts", config });
    }),
  );
  for (const c of children) stack.add(c);
  await Promise.all(children.map((c) => c.request("connect", undefined, 180_000)));
  return children;
}

/** Spreads `count` subscribers over `nodes` (alternating), each on one of `channels` channels. */
export function spread(
  count: number,
  nodes: string[],
  channels: number,
  transportOf: (i: number) => ClientSpec["transport"],
): ClientSpec[][] {
  const groups: ClientSpec[][] = nodes.map(() => []);
  for (let i = 0; i < count; i++) {
    const node = i % nodes.length;
    (groups[node] as ClientSpec[]).push({
      transport: transportOf(i),
      url: nodes[node] as string,
      node,
      channels: [i % channels],
    });
  }
  return groups;
}
