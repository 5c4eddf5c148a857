/**
 * Channel affinity through a real HAProxy (infra/lb/haproxy.cfg rendered with `--affinity`): every
 * TypeScript client created with `affinity: <channel>` — on /ws and on Socket.IO — reaches the same
 * tailer as the other clients of that channel, and only that tailer tails the channel's bus.
 */

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";
import { type Client, createClient, type TransportName } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import { busIndexOf } from "../../shared/bus/partition.ts";
import type { Envelope } from "../../shared/message.ts";
import type { BusReport } from "../../tailer/buses.ts";
import { type BusSetWriter, busSetWriter } from "../helpers/bus-set-writer.ts";
import { findHaproxy, type Haproxy, startHaproxy } from "../helpers/haproxy.ts";
import { componentEnv, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const haproxy = findHaproxy();
const missing = "missing" in haproxy ? haproxy.missing : null;
if (missing) console.warn(`[integration] affinity tests skipped: ${missing}`);

const BUSES = 3;
const CLIENTS_PER_CHANNEL = 4;

interface NodeView {
  connections: number;
  buses: BusReport[];
}

async function view(node: Component): Promise<NodeView> {
  const res = await fetch(`${node.url}/stats`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { clients: number; wsClients: number; buses: BusReport[] };
  return { connections: body.clients + body.wsClients, buses: body.buses };
}

describe.skipIf(missing !== null)("channel affinity at the load balancer", () => {
  const db = testDbName(import.meta.url);
  const env = { TAILCAST_BUSES: String(BUSES) };
  let nodes: Component[] = [];
  let lb: Haproxy;
  let writer: BusSetWriter;
  const clients: Client[] = [];

  beforeAll(async () => {
    writer = busSetWriter(componentEnv({ uri: inject("mongodbUri"), db, env }));
    nodes = await Promise.all([
      startTailer({ db, env, nodeId: "aff-a" }),
      startTailer({ db, env, nodeId: "aff-b" }),
    ]);
    lb = await startHaproxy(
      (haproxy as { path: string }).path,
      nodes.map((node, i) => ({ name: `t${i}`, address: `127.0.0.1:${node.port}` })),
      undefined,
      { affinity: true },
    );
    await Promise.all(nodes.map((_, i) => lb.waitFor(`t${i}`, "UP")));
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await lb?.stop();
    await stopAll(nodes);
    await writer?.close();
  });

  /** A client through the balancer with affinity to `channel`, subscribed to it; resolves with what it receives once acknowledged. */
  async function subscribed(channel: string, transport: TransportName): Promise<Envelope[]> {
    const got: Envelope[] = [];
    const client = createClient({
      urls: [lb.url],
      transport,
      affinity: channel,
      WebSocket: WsWebSocket as unknown as typeof WebSocket,
    });
    clients.push(client);
    await new Promise<void>((resolve) => {
      const off = client.on("subscribed", () => {
        off();
        resolve();
      });
      client.subscribe(channel, (m) => got.push(m));
    });
    return got;
  }

  it("puts every client of a channel on one tailer, which alone tails the channel's bus", async () => {
    const channels = ["aff-orders", "aff-chat", "aff-prices", "aff-news"];
    const placed = new Map<string, number>();
    for (const channel of channels) {
      const before = await Promise.all(nodes.map(view));
      const inboxes: Envelope[][] = [];
      for (let i = 0; i < CLIENTS_PER_CHANNEL; i++) {
        inboxes.push(await subscribed(channel, i % 2 === 0 ? "ws" : "socket.io"));
      }
      const after = await Promise.all(nodes.map(view));
      const added = after.map((v, i) => v.connections - (before[i] as NodeView).connections);
      // All of this channel's connections landed on one tailer.
      expect(added.sort()).toEqual([0, CLIENTS_PER_CHANNEL]);
      const on = after.findIndex((v, i) => v.connections - (before[i] as NodeView).connections > 0);
      placed.set(channel, on);
      expect(after[on]?.buses[busIndexOf(channel, BUSES)]?.tailing).toBe(true);

      const m = await writer.publish(channel, { to: channel });
      for (const inbox of inboxes) {
        await expect.poll(() => inbox.map((e) => e.id), { timeout: 20_000 }).toContain(m.id);
      }
    }
    // A tailer tails only the buses of the channels placed on it.
    for (const [i, node] of nodes.entries()) {
      const needed = new Set(
        [...placed].filter(([, on]) => on === i).map(([channel]) => busIndexOf(channel, BUSES)),
      );
      const tailed = (await view(node)).buses.filter((b) => b.tailing).map((b) => b.index);
      expect(new Set(tailed)).toEqual(needed);
    }
  });
});
