/**
 * `npx tsx bench/capacity/message-cost.ts [--seconds 5]`: what one published message costs the ingest
 * function that stores it and a tailer that reads it without delivering it, for the capacity plan
 * (docs/scale.md). One ingest process and one tailer on the test database; the tailer has one /ws client
 * on a channel nobody publishes to (so it tails the bus, and every document it reads is one it has no
 * subscriber for: the read cost alone). Published to by HTTP keep-alive (bench/clients/publisher.ts):
 * single messages (`POST /v1/channels/{c}/messages`, 64 in flight, 99 channels) and batches of 100
 * (`POST /v1/messages`), each for a fixed time; each process's CPU time (user + system, /proc) over the
 * run and a settle time after it, divided into the acknowledged messages.
 * Writes bench-results/capacity-message-cost-<time>.json.
 */
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { startDevDb } from "../../infra/devdb/launcher.ts";
import { startComponent } from "../../infra/local/component.ts";
import type { RunResult } from "../clients/publisher.ts";
import type { ClientSpec } from "../clients/transports.ts";
import { machineInfo } from "../machine.ts";
import { parseBenchArgs } from "../options.ts";
import { startChild } from "../procs.ts";
import { Stack, startClients, stopEverything } from "../rig.ts";
import {
  type BenchContext,
  dbName,
  dropOnStop,
  fillThroughIngest,
  tailcastEnv,
  tailerOptions,
} from "../scenarios/common.ts";
import { cpuSeconds } from "../sysstat.ts";
import { runCapacity, say, writeCapacityReport } from "./report.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const perCore = (n: number, cpu: number) => Math.round(n / cpu).toLocaleString("en-US");
const SETTLE_MS = 2_000;
/** Channel index of the tailer's one client; publishes go to the channels below it. */
const QUIET_CHANNEL = 99;

interface Cost {
  kind: "single" | "batch100";
  acked: number;
  rate: number;
  ingestCpuSeconds: number;
  tailerCpuSeconds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" } } });
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 60)) throw new Error("--seconds must be in (0, 60]");
  const devdb = await startDevDb({ log: (l) => say(`[devdb] ${l}`) });
  const stack = new Stack();
  try {
    const machine = await machineInfo(devdb);
    say(`machine: ${machine.cpus}× ${machine.cpuModel}, node ${machine.node}, database ${machine.database}`);
    const ctx: BenchContext = { db: devdb, options: parseBenchArgs([]), log: say, outDir: REPO_ROOT };
    const db = dbName("msgcost");
    stack.add(dropOnStop(devdb.uri, db));
    const ingest = stack.add(await startComponent({ kind: "functions", env: tailcastEnv(ctx, db) }));
    await ingest.ready();
    await fillThroughIngest(ingest.url, ctx.options.busDocs);
    const tailer = stack.add(await startComponent(tailerOptions(ctx, db, "message-cost")));
    await tailer.ready();
    const quiet: ClientSpec = {
      transport: "tailcast-ws",
      url: tailer.url,
      node: 0,
      channels: [QUIET_CHANNEL],
    };
    await startClients(stack, "message-cost", [[quiet]]);
    const publisher = stack.add(
      await startChild("message-cost-publisher", {
        script: "clients/publisher.ts",
        config: { kind: "http", urls: [ingest.url], inFlight: 64 },
      }),
    );
    const pids = { ingest: ingest.pid, tailer: tailer.pid };
    const results: Cost[] = [];
    const measure = async (kind: Cost["kind"], publish: () => Promise<number>) => {
      const before = { ingest: cpuSeconds(pids.ingest), tailer: cpuSeconds(pids.tailer) };
      const t0 = performance.now();
      const acked = await publish();
      const rate = acked / ((performance.now() - t0) / 1000);
      // The tailer reads what was acknowledged within milliseconds; the settle time covers it.
      await sleep(SETTLE_MS);
      const cost: Cost = {
        kind,
        acked,
        rate,
        ingestCpuSeconds: (cpuSeconds(pids.ingest) ?? Number.NaN) - (before.ingest ?? Number.NaN),
        tailerCpuSeconds: (cpuSeconds(pids.tailer) ?? Number.NaN) - (before.tailer ?? Number.NaN),
      };
      results.push(cost);
      say(
        `${kind}: ${acked} acknowledged at ${Math.round(rate)} msg/s; ingest CPU ${cost.ingestCpuSeconds.toFixed(2)} s` +
          ` → ${perCore(acked, cost.ingestCpuSeconds)} messages per ingest core-second; tailer CPU` +
          ` ${cost.tailerCpuSeconds.toFixed(2)} s → ${perCore(acked, cost.tailerCpuSeconds)} documents read per tailer core-second`,
      );
    };
    // Single messages: as many as 64 requests in flight allow (the target rate is never reached here).
    await measure("single", async () => {
      const r = await publisher.request<RunResult>(
        "run",
        {
          step: 1,
          rate: 20_000,
          durationMs: seconds * 1000,
          channels: QUIET_CHANNEL,
          deadlineMs: seconds * 1000,
        },
        seconds * 1000 + 60_000,
      );
      return r.sent.reduce((a, b) => a + b, 0) - r.failed.reduce((a, f) => a + f.length, 0);
    });
    // Batches of 100 into one channel, one request at a time.
    await measure("batch100", async () => {
      const t0 = performance.now();
      let acked = 0;
      for (let step = 2; performance.now() - t0 < seconds * 1000; step++) {
        const r = await publisher.request<{ sent: number }>("burst", {
          step,
          count: 1000,
          channel: 0,
          batch: 100,
        });
        acked += r.sent;
      }
      return acked;
    });
    const command = `npx tsx bench/capacity/message-cost.ts --seconds ${seconds}`;
    const file = await writeCapacityReport("message-cost", { command, machine, results });
    say(`report: ${file}`);
  } finally {
    await stack.stop();
    await stopEverything();
    await devdb.stop();
  }
}

runCapacity("message-cost", main);
