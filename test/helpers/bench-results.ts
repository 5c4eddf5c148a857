/** A small, complete benchmark results object (bench/results.ts) for the report and target tests. */
import type { RigResult, StepResult } from "../../bench/measure.ts";
import { parseBenchArgs } from "../../bench/options.ts";
import type {
  BenchResults,
  FanoutResult,
  SlowConsumerPhase,
  SlowConsumerResult,
} from "../../bench/results.ts";
import type { SystemId, Workload } from "../../bench/rig.ts";
import { type BlockMeasure, phaseOf, slowOverBaseline } from "../../bench/slow-consumer-phases.ts";
import { emptyDelivery, summarize } from "../../bench/stats.ts";

export function step(rate: number, latencies: number[], ok = true): StepResult {
  const delivery = { ...emptyDelivery(), expected: rate * 4, delivered: ok ? rate * 4 : rate * 3 };
  return {
    rate,
    durationMs: 4000,
    sent: rate * 4,
    failed: 0,
    achievedRate: rate,
    ack: summarize([1, 2, 3]),
    delivery,
    latency: summarize(latencies),
    latencyByNode: { "0": summarize(latencies), "1": summarize(latencies.map((v) => v + 1)) },
    usefulPerSec: delivery.delivered / 4,
    allPerSec: delivery.delivered / 4,
    drainMs: 100,
    ok,
    reason: ok ? "" : `${rate} lost`,
  };
}

export function rig(system: SystemId, workload: Workload, p50: number, zeroLoss: number | null): RigResult {
  const latency = step(100, [p50 - 1, p50, p50 + 1, p50 + 5]);
  const ramp =
    zeroLoss === null ? [step(50, [p50], false)] : [step(zeroLoss, [p50]), step(zeroLoss * 2, [p50], false)];
  return {
    system,
    workload,
    idleCpu: [
      { label: "database", percent: 10 },
      { label: system === "tailcast" ? "tailer-1" : "node-1", percent: 1.5 },
      { label: system === "tailcast" ? "tailer-2" : "node-2", percent: 0.5 },
    ],
    latency,
    ramp,
    zeroLossRate: zeroLoss,
    zeroLossDeliveries: zeroLoss === null ? null : zeroLoss * (workload.clients / workload.channels),
    notes: [],
  };
}

function fan(server: FanoutResult["server"], clients: number, perSec: number, rss: number): FanoutResult {
  const delivery = { ...emptyDelivery(), expected: clients * 100, delivered: clients * 100 };
  return {
    server,
    clients,
    messages: 100,
    delivery,
    deliveriesPerSec: perSec,
    durationMs: 1000,
    rssPerConnection: rss,
  };
}

export function sampleResults(): BenchResults {
  const one: Workload = { id: "one-channel", channels: 1, clients: 20 };
  const many: Workload = { id: "many-channels", channels: 100, clients: 100 };
  return {
    meta: {
      startedAt: "2026-01-01T00:00:00.000Z",
      mode: "quick",
      command: "npm run bench -- --quick",
      durationMs: 123_000,
      machine: {
        cpus: 2,
        cpuModel: "Test CPU <model>",
        memoryGiB: 24,
        node: "v20.0.0",
        database: "FerretDB v1.24.2 (SQLite backend)",
        databaseKind: "ferretdb",
      },
      options: parseBenchArgs(["--quick"]),
    },
    rigs: [
      rig("floor", { ...one, clients: 2 }, 4, 400),
      rig("tailcast", one, 4.5, 800),
      rig("classic", one, 6, 200),
      rig("redis", one, 1.5, 3200),
      rig("tailcast", many, 5, 800),
      rig("classic", many, 9, null),
      rig("redis", many, 1.2, 3200),
    ],
    fanout: [
      fan("bare-ws", 1000, 100_000, 6000),
      fan("tailcast-sio", 1000, 85_000, 8000),
      fan("tailcast-ws", 1000, 80_000, 9000),
    ],
    recovery: [10, 1000, 10_000].flatMap((k) =>
      (["window", "bus"] as const).map((path) => ({
        path,
        transport: "tailcast-sio" as const,
        k,
        busDocs: 11_000,
        ms: [k / 10 + (path === "bus" ? 5 : 1)],
        medianMs: k / 10 + (path === "bus" ? 5 : 1),
        exact: true,
      })),
    ),
    slowConsumer: slowConsumer(),
    skipped: [],
    targets: [],
  };
}

/** Blocks of the slow-consumer scenario: baseline first and last, the slow client between. */
export function slowBlocks(): BlockMeasure[] {
  const block = (slowClient: boolean, latencies: number[], rss: number[]): BlockMeasure => ({
    slowClient,
    latencies,
    maxLatency: Math.max(...latencies) + 1,
    steady: { ...emptyDelivery(), expected: latencies.length, delivered: latencies.length },
    bulk: { ...emptyDelivery(), expected: 100, delivered: slowClient ? 99 : 100 },
    bulkBytesPerSec: slowClient ? 4 * 1024 * 1024 : 5 * 1024 * 1024,
    rss,
    largestPendingBytes: slowClient ? 1_200_000 : 0,
    cuts: slowClient ? { ws: 2, socketIo: 1 } : { ws: 0, socketIo: 0 },
  });
  return [
    block(false, [10, 20, 30, 40], [100, 110]),
    block(true, [10, 20, 30, 80], [120, 130]),
    block(false, [10, 20, 30, 40], [105, 115]),
  ];
}

function slowConsumer(): SlowConsumerResult {
  const blocks = slowBlocks();
  return {
    readers: { socketIo: 2, ws: 2 },
    steadyRate: 100,
    bulkRate: 320,
    bulkBytes: 16 * 1024,
    blockMs: 5000,
    maxPendingBytes: 1024 * 1024,
    phases: [phaseOf("baseline", blocks), phaseOf("slow client", blocks)].filter(
      (p): p is SlowConsumerPhase => p !== null,
    ),
    p99Ratio: slowOverBaseline(blocks),
    slowClient: { connections: 4, signalled: 3, otherEnds: 0, errors: [] },
  };
}
