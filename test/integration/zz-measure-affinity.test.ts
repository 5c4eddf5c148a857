// Temporary measurement (not committed): documents read per tailer with 4 buses, 3 tailers, HAProxy.
import { WebSocket as WsWebSocket } from "ws";
import { afterAll, expect, inject, it } from "vitest";
import { busAffinity, type Client, createClient } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import type { BusReport } from "../../tailer/buses.ts";
import { busSetWriter } from "../helpers/bus-set-writer.ts";
import { pollUntil } from "../helpers/guarantees.ts";
import { findHaproxy, startHaproxy } from "../helpers/haproxy.ts";
import { componentEnv, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const BUSES = 4;
const CHANNELS = Number(process.env.M_CHANNELS ?? 120);
const PER = 5;
const db = testDbName(import.meta.url);
const env = { TAILCAST_BUSES: String(BUSES), TAILCAST_TAIL_IDLE_MS: "200" };
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});
const reads = async (n: Component) =>
  ((await (await fetch(`${n.url}/stats`)).json()) as { buses: BusReport[] }).buses;

it("measures", async () => {
  const hp = findHaproxy() as { path: string };
  const writer = busSetWriter(componentEnv({ uri: inject("mongodbUri"), db, env }));
  cleanup.push(() => writer.close());
  const nodes = await Promise.all([0, 1, 2].map((i) => startTailer({ db, env, nodeId: `m${i}` })));
  cleanup.push(() => stopAll(nodes));
  const channels = Array.from({ length: CHANNELS }, (_, i) => `m-${i}`);
  const rows: string[] = [];
  for (const mode of ["none", "channel", "bus"] as const) {
    const lb = await startHaproxy(
      hp.path,
      nodes.map((n, i) => ({ name: `t${i}`, address: `127.0.0.1:${n.port}` })),
      undefined,
      { affinity: mode !== "none" },
    );
    await Promise.all(nodes.map((_, i) => lb.waitFor(`t${i}`, "UP")));
    const clients: Client[] = [];
    const got = new Set<string>();
    await Promise.all(
      channels.map(
        (channel) =>
          new Promise<void>((resolve) => {
            const affinity =
              mode === "none" ? undefined : mode === "channel" ? channel : busAffinity(channel, BUSES);
            const c = createClient({
              urls: [lb.url],
              affinity,
              WebSocket: WsWebSocket as unknown as typeof WebSocket,
            });
            clients.push(c);
            const off = c.on("subscribed", () => {
              off();
              resolve();
            });
            c.subscribe(channel, (m) => got.add(m.id));
          }),
      ),
    );
    const before = await Promise.all(nodes.map(reads));
    let total = 0;
    for (let r = 0; r < PER; r++) {
      await Promise.all(channels.map((ch) => writer.publish(ch, { r })));
      total += CHANNELS;
    }
    await pollUntil("all delivered", async () => (got.size === total ? true : undefined), 60_000);
    const after = await Promise.all(nodes.map(reads));
    const per = after.map((bs, i) =>
      bs.reduce((n, b, j) => n + b.read - ((before[i] as BusReport[])[j] as BusReport).read, 0),
    );
    const tailed = after.map((bs) => bs.filter((b) => b.tailing).length);
    rows.push(
      `${mode}: published ${total}; read per tailer ${per.join(", ")} (${per.map((p) => ((100 * p) / total).toFixed(0)).join("%, ")}%); buses tailed ${tailed.join(", ")}; sum ${per.reduce((a, b) => a + b, 0)}`,
    );
    for (const c of clients) c.close();
    await lb.stop();
    await pollUntil(
      "tails idle",
      async () => ((await Promise.all(nodes.map(reads))).flat().every((b) => !b.tailing) ? true : undefined),
      30_000,
    );
  }
  console.log(`\n[measure] ${CHANNELS} channels, ${BUSES} buses, 3 tailers\n${rows.join("\n")}`);
  expect(rows.length).toBe(3);
}, 300_000);
