/**
 * `npx tsx bench/capacity/ingest-cost.ts [--seconds 5]`: what one ingest function process spends per
 * published message, for the capacity plan (docs/scale.md). One ingest process on the test database,
 * published to by HTTP keep-alive (bench/clients/publisher.ts) — single messages
 * (`POST /v1/channels/{c}/messages`, 64 in flight, 100 channels) and batches of 100
 * (`POST /v1/messages`) — for a fixed time; the ingest's CPU time (user + system, /proc) over the run
 * divided into the acknowledged messages. Writes bench-results/capacity-ingest-<time>.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { startDevDb } from "../../infra/devdb/launcher.ts";
import { startComponent } from "../../infra/local/component.ts";
import type { RunResult } from "../clients/publisher.ts";
import { machineInfo } from "../machine.ts";
import { parseBenchArgs } from "../options.ts";
import { startChild } from "../procs.ts";
import { Stack, stopEverything } from "../rig.ts";
import {
  type BenchContext,
  dbName,
  dropOnStop,
  fillThroughIngest,
  tailcastEnv,
} from "../scenarios/common.ts";
import { cpuSeconds } from "../sysstat.ts";

const say = (line: string) => process.stdout.write(`${line}\n`);

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
    const db = dbName("ingestcost");
    stack.add(dropOnStop(devdb.uri, db));
    const ingest = stack.add(await startComponent({ kind: "functions", env: tailcastEnv(ctx, db) }));
    await ingest.ready();
    await fillThroughIngest(ingest.url, ctx.options.busDocs);
    const publisher = stack.add(
      await startChild("ingest-cost-publisher", {
        script: "clients/publisher.ts",
        config: { kind: "http", urls: [ingest.url], inFlight: 64 },
      }),
    );
    const results = [];
    // Single messages: as fast as 64 requests in flight allow (the target rate is never reached here).
    {
      const before = cpuSeconds(ingest.pid) ?? Number.NaN;
      const r = await publisher.request<RunResult>(
        "run",
        {
          step: 1,
          rate: 20_000,
          durationMs: seconds * 1000,
          channels: 100,
          deadlineMs: seconds * 1000,
        },
        seconds * 1000 + 60_000,
      );
      const cpu = (cpuSeconds(ingest.pid) ?? Number.NaN) - before;
      const acked = r.sent.reduce((a, b) => a + b, 0) - r.failed.reduce((a, f) => a + f.length, 0);
      results.push({
        kind: "single",
        acked,
        cpuSeconds: cpu,
        perCoreSecond: acked / cpu,
        rate: r.achievedRate,
      });
      say(
        `single messages: ${acked} acknowledged at ${Math.round(r.achievedRate)} msg/s (ack p50 ${r.ack.p50.toFixed(1)} ms);` +
          ` ingest CPU ${cpu.toFixed(2)} s → ${Math.round(acked / cpu).toLocaleString("en-US")} messages per ingest core-second`,
      );
    }
    // Batches of 100 into one channel, one request at a time, for the same time.
    {
      const before = cpuSeconds(ingest.pid) ?? Number.NaN;
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
      const elapsed = (performance.now() - t0) / 1000;
      const cpu = (cpuSeconds(ingest.pid) ?? Number.NaN) - before;
      results.push({
        kind: "batch100",
        acked,
        cpuSeconds: cpu,
        perCoreSecond: acked / cpu,
        rate: acked / elapsed,
      });
      say(
        `batches of 100: ${acked} acknowledged at ${Math.round(acked / elapsed)} msg/s;` +
          ` ingest CPU ${cpu.toFixed(2)} s → ${Math.round(acked / cpu).toLocaleString("en-US")} messages per ingest core-second`,
      );
    }
    const outDir = resolve(REPO_ROOT, "bench-results");
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, `capacity-ingest-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    const command = `npx tsx bench/capacity/ingest-cost.ts --seconds ${seconds}`;
    await writeFile(file, JSON.stringify({ command, machine, results }, null, 2));
    say(`report: ${file}`);
  } finally {
    await stack.stop();
    await stopEverything();
    await devdb.stop();
  }
}

main().catch((err: unknown) => {
  say(`ingest-cost failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
