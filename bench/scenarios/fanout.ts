/**
 * Fan-out ceiling: N idle subscribed clients (memory per connection), then a burst of messages to all
 * of them (deliveries per second, first arrival to last, over every client). Three servers, each
 * fresh: a bare `ws` server sending one pre-encoded buffer to every client, and one tailcast tailer
 * with N Socket.IO or N /ws subscribers, its messages coming through the ingest function and the bus.
 */
import { type Component, startComponent } from "../../infra/local/component.ts";
import type { ProcessStepReport } from "../clients/main.ts";
import type { StepTotals } from "../clients/recorder.ts";
import type { ClientSpec, Transport } from "../clients/transports.ts";
import { type BenchChild, startChild } from "../procs.ts";
import { FANOUT_SERVERS, type FanoutResult, type FanoutServer } from "../results.ts";
import { Stack, startClients } from "../rig.ts";
import { addDelivery, type Delivery, emptyDelivery, lost } from "../stats.ts";
import { rssBytes } from "../sysstat.ts";
import {
  type BenchContext,
  dbName,
  dropOnStop,
  fillThroughIngest,
  tailcastEnv,
  tailerOptions,
} from "./common.ts";

const SETTLE_MS = 3000;
const CLIENT_PROCESSES = 2;
const BURSTS = 3;
const TRANSPORT: Record<FanoutServer, Transport> = {
  "bare-ws": "bare-ws",
  "tailcast-sio": "tailcast-sio",
  "tailcast-ws": "tailcast-ws",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  url: string;
  pid: number;
  burst(step: number, count: number): Promise<unknown>;
}

export async function runFanout(ctx: BenchContext): Promise<FanoutResult[]> {
  const results: FanoutResult[] = [];
  const shared = new Stack();
  try {
    const db = dbName("fanout");
    shared.add(dropOnStop(ctx.db.uri, db));
    const ingest = shared.add(await startComponent({ kind: "functions", env: tailcastEnv(ctx, db) }));
    await ingest.ready();
    await fillThroughIngest(ingest.url, ctx.options.busDocs);
    const publisher = shared.add(
      await startChild("fanout-publisher", {
        script: "clients/publisher.ts",
        config: { kind: "http", urls: [ingest.url], inFlight: 4 },
      }),
    );
    let step = 0;
    for (const n of ctx.options.fanoutClients) {
      const messages = Math.max(10, Math.round(ctx.options.fanoutDeliveries / n));
      for (const server of FANOUT_SERVERS) {
        ctx.log(`  ${server}, ${n} clients, ${messages} messages:`);
        const stack = new Stack();
        try {
          const s = await startServer(ctx, stack, server, db, publisher);
          results.push(await measureOne(ctx, stack, server, s, n, messages, ++step));
        } catch (err) {
          const error = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
          ctx.log(`    failed: ${error}`);
          results.push({
            server,
            clients: n,
            messages,
            delivery: emptyDelivery(),
            deliveriesPerSec: Number.NaN,
            durationMs: Number.NaN,
            rssPerConnection: null,
            error,
          });
        } finally {
          await stack.stop();
        }
      }
    }
  } finally {
    await shared.stop();
  }
  return results;
}

async function startServer(
  ctx: BenchContext,
  stack: Stack,
  server: FanoutServer,
  db: string,
  publisher: BenchChild,
): Promise<Server> {
  if (server === "bare-ws") {
    const child = stack.add(await startChild("bare-ws", { script: "servers/bare-ws.ts", config: {} }));
    const port = await child.request<number>("port");
    return {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid,
      burst: (step, count) => child.request("burst", { step, count, channel: 0 }, 120_000),
    };
  }
  const tailer: Component = stack.add(await startComponent(tailerOptions(ctx, db, `fanout-${server}`)));
  await tailer.ready();
  return {
    url: tailer.url,
    pid: tailer.pid,
    burst: (step, count) => publisher.request("burst", { step, count, channel: 0, batch: 100 }, 120_000),
  };
}

/** One burst of `messages` to every client; deliveries/s from the first arrival to the last. */
async function burstOnce(
  s: Server,
  clients: BenchChild[],
  messages: number,
  step: number,
): Promise<{ delivery: Delivery; perSec: number; durationMs: number }> {
  const totals: StepTotals = { sent: [messages], failed: [[]] };
  await s.burst(step, messages);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const progress = await Promise.all(
      clients.map((c) => c.request<{ expected: number; delivered: number }>("progress", { step, totals })),
    );
    if (progress.every((p) => p.delivered >= p.expected) || Date.now() > deadline) break;
    await sleep(100);
  }
  const reports = await Promise.all(
    clients.map((c) => c.request<ProcessStepReport>("report", { step, totals }, 60_000)),
  );
  let delivery = emptyDelivery();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const r of reports) {
    delivery = addDelivery(delivery, r.delivery);
    if (r.firstAt !== null) first = Math.min(first, r.firstAt);
    if (r.lastAt !== null) last = Math.max(last, r.lastAt);
  }
  const durationMs = last - first;
  return {
    delivery,
    perSec: durationMs > 0 ? (delivery.delivered * 1000) / durationMs : Number.NaN,
    durationMs,
  };
}

async function measureOne(
  ctx: BenchContext,
  stack: Stack,
  server: FanoutServer,
  s: Server,
  n: number,
  messages: number,
  step: number,
): Promise<FanoutResult> {
  await sleep(SETTLE_MS);
  const before = rssBytes(s.pid);
  const groups: ClientSpec[][] = Array.from({ length: CLIENT_PROCESSES }, () => []);
  for (let i = 0; i < n; i++) {
    groups[i % CLIENT_PROCESSES]?.push({ transport: TRANSPORT[server], url: s.url, node: 0, channels: [0] });
  }
  const clients = await startClients(stack, `fanout-${server}`, groups, 100);
  await sleep(SETTLE_MS);
  const after = rssBytes(s.pid);
  const rssPerConnection = before !== null && after !== null ? (after - before) / n : null;

  // Bursts are short: the median of a few keeps one scheduling hiccup of this shared machine out.
  const bursts: Array<{ delivery: Delivery; perSec: number; durationMs: number }> = [];
  for (let rep = 0; rep < BURSTS; rep++)
    bursts.push(await burstOnce(s, clients, messages, step * BURSTS + rep));
  const byRate = [...bursts].sort((a, b) => a.perSec - b.perSec);
  const mid = byRate[Math.floor(byRate.length / 2)] as (typeof bursts)[number];
  const delivery = bursts.reduce((acc, b) => addDelivery(acc, b.delivery), emptyDelivery());
  const deliveriesPerSec = mid.perSec;
  const durationMs = mid.durationMs;
  ctx.log(
    `    ${Math.round(deliveriesPerSec).toLocaleString("en-US")} deliveries/s (median of ${bursts.map((b) => Math.round(b.perSec / 1000)).join("k, ")}k); ` +
      `RSS ${rssPerConnection === null ? "?" : `${(rssPerConnection / 1024).toFixed(1)} KB`} per idle connection` +
      (lost(delivery) ? `; ${lost(delivery)} LOST` : ""),
  );
  return { server, clients: n, messages, delivery, deliveriesPerSec, durationMs, rssPerConnection };
}
