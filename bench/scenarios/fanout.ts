/**
 * Fan-out ceiling: N idle subscribed clients (memory per connection), then bursts of messages to all
 * of them (deliveries per second, first arrival to last, over every client; the median burst counts).
 * Three servers, fresh for each N: a bare `ws` server sending one pre-encoded buffer to every client,
 * and two tailcast tailers, one with N Socket.IO and one with N /ws subscribers, their messages coming
 * through the ingest function and the bus.
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
const TRANSPORT: Record<FanoutServer, Transport> = {
  "bare-ws": "bare-ws",
  "tailcast-sio": "tailcast-sio",
  "tailcast-ws": "tailcast-ws",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Server {
  kind: FanoutServer;
  url: string;
  pid: number;
  /** The channel index its clients subscribe to (the two tailers share one bus). */
  channel: number;
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
      ctx.log(`  ${n.toLocaleString("en-US")} clients per server, ${messages} messages per burst:`);
      const stack = new Stack();
      try {
        results.push(...(await measureSize(ctx, stack, db, publisher, n, messages, () => ++step)));
      } catch (err) {
        const error = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
        ctx.log(`    failed: ${error}`);
        for (const server of FANOUT_SERVERS) {
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
        }
      } finally {
        await stack.stop();
      }
    }
  } finally {
    await shared.stop();
  }
  return results;
}

/**
 * All three servers at once, each with its own N clients (and, for the tailers, its own channel), so
 * their bursts can alternate: whatever else this shared machine is doing hits all three alike.
 */
async function measureSize(
  ctx: BenchContext,
  stack: Stack,
  db: string,
  publisher: BenchChild,
  n: number,
  messages: number,
  nextStep: () => number,
): Promise<FanoutResult[]> {
  const servers: Server[] = [];
  for (const [i, server] of FANOUT_SERVERS.entries())
    servers.push(await startServer(ctx, stack, server, db, publisher, i));
  // Memory per connection is the marginal cost between N/2 and N connected clients: the first half
  // also pays for lazily loaded code and startup garbage, which a baseline taken before any client
  // would count (or, once collected, subtract).
  const clients: BenchChild[][] = servers.map(() => []);
  const rss: Array<Array<number | null>> = servers.map(() => []);
  for (let half = 0; half < 2; half++) {
    for (const [i, s] of servers.entries()) {
      const group: ClientSpec[] = [];
      for (let c = half; c < n; c += 2) {
        group.push({ transport: TRANSPORT[s.kind], url: s.url, node: 0, channels: [s.channel] });
      }
      clients[i]?.push(...(await startClients(stack, `fanout-${s.kind}-${half + 1}`, [group], 100)));
    }
    await sleep(SETTLE_MS);
    for (const [i, s] of servers.entries()) rss[i]?.push(rssBytes(s.pid));
  }
  const perConnection = (i: number): number | null => {
    const [a, b] = rss[i] ?? [];
    return a == null || b == null ? null : (b - a) / (n - Math.ceil(n / 2));
  };
  const bursts: Array<Array<{ delivery: Delivery; perSec: number; durationMs: number }>> = servers.map(
    () => [],
  );
  for (let rep = 0; rep < ctx.options.fanoutBursts; rep++) {
    for (const [i, s] of servers.entries()) {
      bursts[i]?.push(await burstOnce(s, clients[i] as BenchChild[], messages, nextStep()));
    }
  }
  return servers.map((s, i) => {
    const mine = bursts[i] ?? [];
    const byRate = [...mine].sort((a, b) => a.perSec - b.perSec);
    const mid = byRate[Math.floor(byRate.length / 2)];
    const delivery = mine.reduce((acc, b) => addDelivery(acc, b.delivery), emptyDelivery());
    const rssPerConnection = perConnection(i);
    const deliveriesPerSec = mid?.perSec ?? Number.NaN;
    ctx.log(
      `    ${s.kind.padEnd(12)} ${Math.round(deliveriesPerSec).toLocaleString("en-US")} deliveries/s ` +
        `(median of ${mine.map((x) => `${Math.round(x.perSec / 1000)}k`).join(", ")}); ` +
        `RSS ${rssPerConnection === null ? "?" : `${(rssPerConnection / 1024).toFixed(1)} KB`} per idle connection` +
        (lost(delivery) ? `; ${lost(delivery)} LOST` : ""),
    );
    return {
      server: s.kind,
      clients: n,
      messages,
      delivery,
      deliveriesPerSec,
      durationMs: mid?.durationMs ?? Number.NaN,
      rssPerConnection,
    };
  });
}

async function startServer(
  ctx: BenchContext,
  stack: Stack,
  server: FanoutServer,
  db: string,
  publisher: BenchChild,
  channel: number,
): Promise<Server> {
  if (server === "bare-ws") {
    const child = stack.add(await startChild("bare-ws", { script: "servers/bare-ws.ts", config: {} }));
    const port = await child.request<number>("port");
    return {
      kind: server,
      url: `http://127.0.0.1:${port}`,
      pid: child.pid,
      channel,
      burst: (step, count) => child.request("burst", { step, count, channel }, 120_000),
    };
  }
  const tailer: Component = stack.add(await startComponent(tailerOptions(ctx, db, `fanout-${server}`)));
  await tailer.ready();
  return {
    kind: server,
    url: tailer.url,
    pid: tailer.pid,
    channel,
    burst: (step, count) => publisher.request("burst", { step, count, channel, batch: 500 }, 120_000),
  };
}

/** One burst of `messages` to every client; deliveries/s from the first arrival to the last. */
export async function burstOnce(
  s: Server,
  clients: BenchChild[],
  messages: number,
  step: number,
): Promise<{ delivery: Delivery; perSec: number; durationMs: number }> {
  const sent = new Array<number>(s.channel + 1).fill(0);
  sent[s.channel] = messages;
  const totals: StepTotals = { sent, failed: sent.map(() => []) };
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
