/**
 * Slow consumer (README "Slow consumers"): do the other clients of a node keep their latency while a
 * client on their channel stops reading? One ingest, one tailer, N normal subscribers (half Socket.IO,
 * half /ws, one client process per transport) on one channel that carries, all the time, a steady load
 * (100 small messages/s, whose latency is measured: bus `ts` → receipt) and a bulk load (320 messages/s
 * of 16 KiB, 5 MiB/s, in requests of 10). Blocks of the same length alternate, baseline first and last:
 * baseline (no slow client) and slow client (bench/clients/slow.ts: stops reading, is cut, reads again,
 * reconnects on the other transport and stops again, for the whole block). On a shared machine the load
 * of other work comes and goes; alternating spreads it over both conditions instead of one. Reported per
 * condition: p50/p99 over all its blocks and each block's p99, what the subscribers got, the tailer's RSS,
 * the fullest outbound buffer and the cuts; and p99 with the slow client over p99 of the baseline.
 *
 * The tailer runs with its defaults (`TAILCAST_MAX_PENDING_BYTES` 1 MiB) but a recovery window of
 * 8 MiB, full after the warm-up, so its RSS does not grow over the blocks for that reason.
 */
import { type Component, startComponent } from "../../infra/local/component.ts";
import { channelName } from "../clients/payload.ts";
import type { RunRequest, RunResult, StreamRequest, StreamResult } from "../clients/publisher.ts";
import type { SlowClientReport, SlowTransport } from "../clients/slow.ts";
import type { ClientSpec } from "../clients/transports.ts";
import { collectStep, fmtMs } from "../measure.ts";
import { type BenchChild, startChild } from "../procs.ts";
import type { SlowConsumerPhase, SlowConsumerResult } from "../results.ts";
import { Stack, startClients } from "../rig.ts";
import { type BlockMeasure, phaseOf, slowOverBaseline } from "../slow-consumer-phases.ts";
import { describeFaults, peakAndMean, summarize } from "../stats.ts";
import { rssBytes } from "../sysstat.ts";
import { type BenchContext, componentOptions, dbName, dropOnStop, tailerOptions } from "./common.ts";

/** The channel's index (its name: `channelName`). */
const CHANNEL = 0;
const STEADY_RATE = 100;
/**
 * 320 × 16 KiB = 5 MiB/s. Requests of 10 messages (160 KiB), up to 4 in flight, spread it: the load of
 * many publishers, not a burst of a MiB every few hundred milliseconds that every message queues behind.
 */
const BULK = { rate: 320, bytes: 16 * 1024, batch: 10, inFlight: 4 };
/** The bulk load starts this long before the steady messages: each block measures under all of it. */
const LEAD_MS = 1000;
/** The tailer is sampled this often in every block (RSS, /stats). */
const SAMPLE_MS = 200;
const RECOVERY_WINDOW_BYTES = 8 * 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

interface SlowStats {
  ws: number;
  socketIo: number;
  maxPendingBytes: number;
  largestPendingBytes: number;
}

async function slowStats(tailer: Component): Promise<SlowStats> {
  const res = await fetch(`${tailer.url}/stats`);
  return ((await res.json()) as { slowConsumers: SlowStats }).slowConsumers;
}

/**
 * Samples the tailer every SAMPLE_MS until stopped: its RSS, the fullest outbound buffer, and each new
 * cut, handed to `onCut` (the slow client then reads again). The same requests in every block.
 */
function sampleTailer(tailer: Component, onCut: (transport: SlowTransport) => void) {
  let running = true;
  const rss: number[] = [];
  let largest = 0;
  // Settles with the loop's error, if any, so it is thrown by `stop`, not left unhandled meanwhile.
  const done = (async (): Promise<unknown> => {
    let last = await slowStats(tailer);
    while (running) {
      await sleep(SAMPLE_MS);
      const r = rssBytes(tailer.pid);
      if (r !== null) rss.push(r);
      const now = await slowStats(tailer);
      largest = Math.max(largest, now.largestPendingBytes);
      if (now.ws > last.ws) onCut("ws");
      if (now.socketIo > last.socketIo) onCut("socket.io");
      last = now;
    }
    return null;
  })().catch((err: unknown) => err ?? new Error("sampling the tailer failed"));
  return {
    async stop() {
      running = false;
      const failed = await done;
      if (failed !== null) throw failed;
      return { rss, largestPendingBytes: largest };
    },
  };
}

interface Setup {
  tailer: Component;
  steady: BenchChild;
  bulk: BenchChild;
  clients: BenchChild[];
  slow: BenchChild;
}

let lastStep = 0;

/** One block: bulk and steady load for `durationMs`, the slow client on the channel or not. */
async function runBlock(
  setup: Setup,
  slowClient: boolean,
  durationMs: number,
  drainMs: number,
): Promise<{ block: BlockMeasure; slowReport: SlowClientReport | null }> {
  const steadyStep = ++lastStep;
  const bulkStep = ++lastStep;
  const before = await slowStats(setup.tailer);
  const sampler = sampleTailer(setup.tailer, (transport) => {
    setup.slow.request("resume", { transport }).catch(() => {});
  });
  if (slowClient) await setup.slow.request("start");
  const stream: StreamRequest = {
    step: bulkStep,
    channel: CHANNEL,
    ...BULK,
    durationMs: LEAD_MS + durationMs,
  };
  const bulk = setup.bulk.request<StreamResult>("stream", stream, stream.durationMs * 1.5 + 30_000);
  await sleep(LEAD_MS);
  const run: RunRequest = {
    step: steadyStep,
    rate: STEADY_RATE,
    durationMs,
    channels: CHANNEL + 1,
    deadlineMs: durationMs * 1.5 + 2000,
  };
  const steadyPub = await setup.steady.request<RunResult>("run", run, run.deadlineMs + 30_000);
  const bulkPub = await bulk;
  const slowReport = slowClient ? await setup.slow.request<SlowClientReport>("stop") : null;
  const totals = { sent: steadyPub.sent, failed: steadyPub.failed };
  const steady = await collectStep(setup.clients, steadyStep, totals, drainMs);
  const bulkGot = await collectStep(setup.clients, bulkStep, bulkPub.totals, drainMs);
  const sampled = await sampler.stop();
  const after = await slowStats(setup.tailer);
  return {
    block: {
      slowClient,
      latencies: steady.samples,
      maxLatency: steady.latency.max,
      steady: steady.delivery,
      bulk: bulkGot.delivery,
      bulkBytesPerSec: bulkPub.bytesPerSec,
      rss: sampled.rss,
      largestPendingBytes: sampled.largestPendingBytes,
      cuts: { ws: after.ws - before.ws, socketIo: after.socketIo - before.socketIo },
    },
    slowReport,
  };
}

function blockLine(b: BlockMeasure): string {
  const latency = summarize(b.latencies, b.maxLatency);
  const faults = [describeFaults(b.steady), describeFaults(b.bulk) && `bulk ${describeFaults(b.bulk)}`]
    .filter(Boolean)
    .join("; ");
  const rss = peakAndMean(b.rss);
  return (
    `  ${(b.slowClient ? "slow client" : "baseline").padEnd(11)}: p50 ${fmtMs(latency.p50)} p99 ${fmtMs(latency.p99)}` +
    ` max ${fmtMs(latency.max)}, bulk ${mib(b.bulkBytesPerSec)}/s, tailer RSS peak ${mib(rss.peak)}` +
    `, fullest buffer ${(b.largestPendingBytes / 1024).toFixed(0)} KiB, cuts ${b.cuts.ws} /ws + ${b.cuts.socketIo} Socket.IO` +
    `${faults ? `; ${faults}` : ""}`
  );
}

export async function runSlowConsumer(ctx: BenchContext): Promise<SlowConsumerResult> {
  const { readers, warmupMs, blockMs, blocks } = ctx.options.slowConsumer;
  const drainMs = ctx.options.latencyDrainMs;
  const stack = new Stack();
  try {
    const db = dbName("slow_consumer");
    stack.add(dropOnStop(ctx.db.uri, db));
    const ingest = stack.add(
      await startComponent(componentOptions(ctx, "functions", db, "ingest-slow-consumer")),
    );
    await ingest.ready();
    const tailer = stack.add(
      await startComponent(
        tailerOptions(ctx, db, "tailer-slow-consumer", {
          TAILCAST_RECOVERY_WINDOW_BYTES: String(RECOVERY_WINDOW_BYTES),
        }),
      ),
    );
    await tailer.ready();
    const reader = (transport: ClientSpec["transport"]): ClientSpec => ({
      transport,
      url: tailer.url,
      node: 0,
      channels: [CHANNEL],
      latencyFrom: "bus",
    });
    const socketIo = Math.ceil(readers / 2);
    const groups = [
      Array.from({ length: socketIo }, () => reader("tailcast-sio")),
      Array.from({ length: readers - socketIo }, () => reader("tailcast-ws")),
    ];
    const clients = await startClients(stack, "slow-consumer", groups);
    const publisher = async (name: string, inFlight: number) =>
      stack.add(
        await startChild(name, {
          script: "clients/publisher.ts",
          config: { kind: "http", urls: [ingest.url], inFlight },
        }),
      );
    const setup: Setup = {
      tailer,
      steady: await publisher("slow-consumer-steady", 32),
      bulk: await publisher("slow-consumer-bulk", BULK.inFlight),
      clients,
      slow: stack.add(
        await startChild("slow-consumer-slow-client", {
          script: "clients/slow.ts",
          config: { url: tailer.url, channel: channelName(CHANNEL) },
        }),
      ),
    };
    const { maxPendingBytes } = await slowStats(tailer);
    ctx.log(
      `  ${readers} subscribers (${socketIo} Socket.IO, ${readers - socketIo} /ws), ${STEADY_RATE} msg/s measured + ` +
        `${BULK.rate} msg/s of ${BULK.bytes / 1024} KiB on one channel; bound ${maxPendingBytes / 1024} KiB; ` +
        `${blocks} blocks of ${blockMs / 1000} s after ${warmupMs / 1000} s of warm-up`,
    );
    // Warm-up, not recorded: JIT, the bus and the recovery window filled, the heap at its working size.
    await runBlock(setup, false, warmupMs, drainMs);
    const measured: BlockMeasure[] = [];
    const slowClient: SlowConsumerResult["slowClient"] = {
      connections: 0,
      signalled: 0,
      otherEnds: 0,
      errors: [],
    };
    for (let i = 0; i < blocks; i++) {
      const { block, slowReport: report } = await runBlock(setup, i % 2 === 1, blockMs, drainMs);
      measured.push(block);
      ctx.log(blockLine(block));
      if (report) {
        const { connections, signalled, otherEnds } = report;
        slowClient.connections += connections;
        slowClient.signalled += signalled.ws + signalled.socketIo;
        slowClient.otherEnds += otherEnds;
        slowClient.errors.push(...report.errors.slice(0, 5 - slowClient.errors.length));
      }
    }
    const phases = [phaseOf("baseline", measured), phaseOf("slow client", measured)].filter(
      (p): p is SlowConsumerPhase => p !== null,
    );
    const result: SlowConsumerResult = {
      readers: { socketIo, ws: readers - socketIo },
      steadyRate: STEADY_RATE,
      bulkRate: BULK.rate,
      bulkBytes: BULK.bytes,
      blockMs,
      maxPendingBytes,
      phases,
      p99Ratio: slowOverBaseline(measured),
      slowClient,
    };
    ctx.log(
      `  p99 with the slow client / p99 of the baseline: ${result.p99Ratio.toFixed(2)}×; the slow client ` +
        `connected ${slowClient.connections} times and was told of ${slowClient.signalled} cuts` +
        (slowClient.otherEnds > 0 ? ` (${slowClient.otherEnds} ended without the signal)` : ""),
    );
    return result;
  } finally {
    await stack.stop();
  }
}
