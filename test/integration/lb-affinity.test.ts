/**
 * Channel affinity through a real HAProxy (infra/lb/haproxy.cfg rendered with `--affinity`): every
 * TypeScript client created with `affinity: <channel>` — on /ws and on Socket.IO — reaches the same
 * tailer as the other clients of that channel, and only that tailer tails the channel's bus. Then the
 * documents each tailer reads for 120 channels (one client each), with no affinity, channel affinity
 * and bus affinity (`busAffinity`), printed for README "Tail on demand and affinity"; with bus affinity
 * the fleet reads every document exactly once.
 */

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";
import { busAffinity, type Client, createClient, type TransportName } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import { busIndexOf } from "../../shared/bus/partition.ts";
import type { Envelope } from "../../shared/message.ts";
import type { BusReport } from "../../tailer/buses.ts";
import { type BusSetWriter, busSetWriter } from "../helpers/bus-set-writer.ts";
import { pollUntil } from "../helpers/guarantees.ts";
import { findHaproxy, type Haproxy, startHaproxy } from "../helpers/haproxy.ts";
import { componentEnv, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const haproxy = findHaproxy();
const missing = "missing" in haproxy ? haproxy.missing : null;
if (missing) console.warn(`[integration] affinity tests skipped: ${missing}`);

const BUSES = 4;
const TAILERS = 3;
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
  const env = { TAILCAST_BUSES: String(BUSES), TAILCAST_TAIL_IDLE_MS: "200" };
  let nodes: Component[] = [];
  let lb: Haproxy;
  let writer: BusSetWriter;
  const clients: Client[] = [];

  beforeAll(async () => {
    writer = busSetWriter(componentEnv({ uri: inject("mongodbUri"), db, env }));
    nodes = await Promise.all(
      Array.from({ length: TAILERS }, (_, i) => startTailer({ db, env, nodeId: `aff-${i}` })),
    );
    lb = await balancer(true);
  }, 90_000);

  async function balancer(affinity: boolean): Promise<Haproxy> {
    const started = await startHaproxy(
      (haproxy as { path: string }).path,
      nodes.map((node, i) => ({ name: `t${i}`, address: `127.0.0.1:${node.port}` })),
      undefined,
      { affinity },
    );
    await Promise.all(nodes.map((_, i) => started.waitFor(`t${i}`, "UP")));
    return started;
  }

  /** Every client closed, every tail closed after the idle time. */
  async function idle(): Promise<void> {
    for (const c of clients.splice(0)) c.close();
    await pollUntil("every tail closed", async () =>
      (await Promise.all(nodes.map(view))).every((v) => v.buses.every((b) => !b.tailing)) ? true : undefined,
    );
  }

  afterAll(async () => {
    for (const c of clients) c.close();
    await lb?.stop();
    await stopAll(nodes);
    await writer?.close();
  });

  /** A client through `via` with `affinity`, subscribed to `channel`; resolves with what it receives once acknowledged. */
  async function subscribed(
    channel: string,
    transport: TransportName,
    affinity: string | undefined = channel,
    via: Haproxy = lb,
  ): Promise<Envelope[]> {
    const got: Envelope[] = [];
    const client = createClient({
      urls: [via.url],
      transport,
      affinity,
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
      expect(added.sort((x, y) => x - y)).toEqual([...Array(TAILERS - 1).fill(0), CLIENTS_PER_CHANNEL]);
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
    await idle();
  });

  it("documents read per tailer for 120 channels: no affinity, channel affinity, bus affinity", async () => {
    const channels = Array.from({ length: 120 }, (_, i) => `read-${i}`);
    const plain = await balancer(false);
    const rows: string[] = [];
    const modes = [
      { name: "no affinity (leastconn)", via: plain, key: () => undefined },
      { name: "channel affinity", via: lb, key: (c: string) => c },
      { name: "bus affinity", via: lb, key: (c: string) => busAffinity(c, BUSES) },
    ];
    try {
      for (const mode of modes) {
        const inboxes = await Promise.all(channels.map((c) => subscribed(c, "ws", mode.key(c), mode.via)));
        const before = await Promise.all(nodes.map(view));
        const sent: string[] = [];
        for (let round = 0; round < 5; round++) {
          const receipts = await Promise.all(channels.map((c) => writer.publish(c, { round })));
          sent.push(...receipts.map((r) => r.id));
        }
        await pollUntil("every message delivered", async () =>
          inboxes.reduce((n, inbox) => n + inbox.length, 0) === sent.length ? true : undefined,
        );
        const after = await Promise.all(nodes.map(view));
        const read = after.map((v, i) =>
          v.buses.reduce((n, b, j) => n + b.read - ((before[i] as NodeView).buses[j] as BusReport).read, 0),
        );
        const tailed = after.map((v) => v.buses.filter((b) => b.tailing).length);
        const pct = read.map((r) => `${Math.round((100 * r) / sent.length)} %`);
        rows.push(
          `${mode.name}: ${sent.length} published; read per tailer ${read.join(" / ")} (${pct.join(" / ")}); buses tailed ${tailed.join(" / ")}`,
        );
        // Every tailer reads at least what its clients need; with bus affinity, nothing more across the fleet.
        expect(read.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(sent.length);
        if (mode.name === "bus affinity") expect(read.reduce((a, b) => a + b, 0)).toBe(sent.length);
        await idle();
      }
    } finally {
      await plain.stop();
    }
    console.log(
      `[affinity] ${channels.length} channels, ${BUSES} buses, ${TAILERS} tailers\n${rows.join("\n")}`,
    );
  });
});
