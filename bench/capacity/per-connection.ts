/**
 * `npx tsx bench/capacity/per-connection.ts [--clients 1000,5000] [--messages 60] [--bursts 3]`: what one
 * tailer spends per client, for the capacity plan (docs/scale.md). For each transport (/ws, Socket.IO),
 * one fresh tailer at a time:
 * - memory per idle subscribed connection: RSS (from /proc) and V8 heap used (the tailer's own
 *   `nodejs_heap_size_used_bytes`), each read after a full GC forced through the tailer's inspector
 *   (inspector-gc.ts), with no client, then with each count of clients, every client subscribed to one
 *   channel;
 * - deliveries per core-second: bursts of messages into that channel through the ingest function, every
 *   client receiving every message; the tailer's CPU time (user + system, /proc) over each burst, from
 *   the publish to the last delivery.
 * Writes bench-results/capacity-per-connection-<time>.json.
 */
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { freePort, startDevDb } from "../../infra/devdb/launcher.ts";
import { startComponent } from "../../infra/local/component.ts";
import type { ClientSpec, Transport } from "../clients/transports.ts";
import { machineInfo } from "../machine.ts";
import { parseBenchArgs } from "../options.ts";
import { type BenchChild, startChild } from "../procs.ts";
import { Stack, startClients, stopEverything } from "../rig.ts";
import {
  type BenchContext,
  dbName,
  dropOnStop,
  fillThroughIngest,
  tailcastEnv,
  tailerOptions,
} from "../scenarios/common.ts";
import { burstOnce } from "../scenarios/fanout.ts";
import { lost } from "../stats.ts";
import { cpuSeconds, rssBytes } from "../sysstat.ts";
import { collectGarbage } from "./inspector-gc.ts";
import { runCapacity, say, writeCapacityReport } from "./report.ts";

const SETTLE_MS = 3_000;
const CHANNEL = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Memory {
  clients: number;
  rssBytes: number | null;
  heapUsedBytes: number | null;
}

interface Burst {
  clients: number;
  messages: number;
  delivered: number;
  lost: number;
  durationMs: number;
  tailerCpuSeconds: number;
  deliveriesPerCoreSecond: number;
  deliveriesPerSecond: number;
}

async function heapUsed(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
  return match ? Number(match[1]) : null;
}

async function measureTransport(
  ctx: BenchContext,
  db: string,
  publisher: BenchChild,
  transport: Transport,
  counts: number[],
  messages: number,
  bursts: number,
  step: () => number,
): Promise<{ transport: Transport; memory: Memory[]; bursts: Burst[] }> {
  const stack = new Stack();
  try {
    const inspector = await freePort();
    const options = tailerOptions(ctx, db, `capacity-${transport}`);
    const tailer = stack.add(
      await startComponent({
        ...options,
        nodeArgs: [...(options.nodeArgs ?? []), `--inspect=127.0.0.1:${inspector}`],
      }),
    );
    await tailer.ready();
    const memory: Memory[] = [];
    const measure = async (clients: number) => {
      await sleep(SETTLE_MS);
      await collectGarbage(inspector);
      const m = { clients, rssBytes: rssBytes(tailer.pid), heapUsedBytes: await heapUsed(tailer.url) };
      memory.push(m);
      say(
        `  ${transport} ${clients} clients: RSS ${mib(m.rssBytes)} MiB, heap used ${mib(m.heapUsedBytes)} MiB`,
      );
    };
    await measure(0);
    const children: BenchChild[] = [];
    let connected = 0;
    for (const n of counts) {
      const more = n - connected;
      // Two client processes per step: one process's event loop is not the limit.
      const groups: ClientSpec[][] = [[], []];
      for (let i = 0; i < more; i++)
        groups[i % 2]?.push({ transport, url: tailer.url, node: 0, channels: [CHANNEL] });
      children.push(...(await startClients(stack, `capacity-${transport}-${n}`, groups, 100)));
      connected = n;
      await measure(n);
    }
    const server = {
      kind: transport === "tailcast-ws" ? "tailcast-ws" : "tailcast-sio",
      url: tailer.url,
      pid: tailer.pid,
      channel: CHANNEL,
      burst: (s: number, count: number) =>
        publisher.request("burst", { step: s, count, channel: CHANNEL, batch: 500 }, 120_000),
    } as const;
    const results: Burst[] = [];
    for (let b = 0; b < bursts; b++) {
      const before = cpuSeconds(tailer.pid) ?? Number.NaN;
      const r = await burstOnce(server, children, messages, step());
      const cpu = (cpuSeconds(tailer.pid) ?? Number.NaN) - before;
      const burst: Burst = {
        clients: connected,
        messages,
        delivered: r.delivery.delivered,
        lost: lost(r.delivery),
        durationMs: r.durationMs,
        tailerCpuSeconds: cpu,
        deliveriesPerCoreSecond: r.delivery.delivered / cpu,
        deliveriesPerSecond: r.perSec,
      };
      results.push(burst);
      say(
        `  ${transport} burst ${b + 1}: ${burst.delivered} deliveries (${burst.lost} lost) in ${Math.round(burst.durationMs)} ms,` +
          ` tailer CPU ${cpu.toFixed(2)} s → ${Math.round(burst.deliveriesPerCoreSecond).toLocaleString("en-US")} deliveries per core-second`,
      );
    }
    return { transport, memory, bursts: results };
  } finally {
    await stack.stop();
  }
}

const mib = (b: number | null) => (b === null ? "?" : (b / 2 ** 20).toFixed(1));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "1000,5000" },
      messages: { type: "string", default: "60" },
      bursts: { type: "string", default: "3" },
    },
  });
  const counts = (values.clients ?? "").split(",").map(Number);
  const messages = Number(values.messages);
  const bursts = Number(values.bursts);
  if (counts.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= (counts[i - 1] as number)))) {
    throw new Error("--clients: increasing positive integers, comma-separated");
  }
  if (!(Number.isInteger(messages) && messages > 0 && Number.isInteger(bursts) && bursts > 0)) {
    throw new Error("--messages and --bursts: positive integers");
  }
  const devdb = await startDevDb({ log: (l) => say(`[devdb] ${l}`) });
  const shared = new Stack();
  try {
    const machine = await machineInfo(devdb);
    say(`machine: ${machine.cpus}× ${machine.cpuModel}, node ${machine.node}, database ${machine.database}`);
    const ctx: BenchContext = { db: devdb, options: parseBenchArgs([]), log: say, outDir: REPO_ROOT };
    const db = dbName("perconn");
    shared.add(dropOnStop(devdb.uri, db));
    const ingest = shared.add(await startComponent({ kind: "functions", env: tailcastEnv(ctx, db) }));
    await ingest.ready();
    await fillThroughIngest(ingest.url, ctx.options.busDocs);
    const publisher = shared.add(
      await startChild("capacity-publisher", {
        script: "clients/publisher.ts",
        config: { kind: "http", urls: [ingest.url], inFlight: 4 },
      }),
    );
    let n = 0;
    const results = [];
    for (const transport of ["tailcast-ws", "tailcast-sio"] as const) {
      results.push(
        await measureTransport(ctx, db, publisher, transport, counts, messages, bursts, () => ++n),
      );
    }
    for (const r of results) {
      const [base, ...rest] = r.memory;
      let prev = base as Memory;
      for (const m of rest) {
        const per = (a: number | null, b: number | null) =>
          a === null || b === null ? "?" : ((b - a) / (m.clients - prev.clients) / 1024).toFixed(1);
        say(
          `${r.transport} ${prev.clients}→${m.clients} clients: RSS ${per(prev.rssBytes, m.rssBytes)} KB,` +
            ` heap ${per(prev.heapUsedBytes, m.heapUsedBytes)} KB per idle connection`,
        );
        prev = m;
      }
      const rates = r.bursts.map((b) => b.deliveriesPerCoreSecond).sort((a, b) => a - b);
      say(
        `${r.transport} deliveries per tailer core-second (median of ${rates.length}): ` +
          `${Math.round(rates[Math.floor(rates.length / 2)] ?? Number.NaN).toLocaleString("en-US")}`,
      );
    }
    const command = `npx tsx bench/capacity/per-connection.ts --clients ${counts.join(",")} --messages ${messages} --bursts ${bursts}`;
    const file = await writeCapacityReport("per-connection", { command, machine, results });
    say(`report: ${file}`);
  } finally {
    await shared.stop();
    await stopEverything();
    await devdb.stop();
  }
}

runCapacity("per-connection", main);
