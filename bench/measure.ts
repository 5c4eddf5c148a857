/**
 * The measurement every system gets, the same way: idle CPU of each process, latency at a fixed rate,
 * then a stepped ramp for the highest rate delivered exactly once and in order to every subscriber.
 */
import type { ProcessStepReport } from "./clients/main.ts";
import type { RunRequest, RunResult } from "./clients/publisher.ts";
import type { StepTotals } from "./clients/recorder.ts";
import type { BenchOptions } from "./options.ts";
import type { BenchChild } from "./procs.ts";
import type { Rig, SystemId, Workload } from "./rig.ts";
import {
  addDelivery,
  type Delivery,
  describeFaults,
  emptyDelivery,
  isClean,
  type Summary,
  summarize,
} from "./stats.ts";
import { type CpuUse, sampleCpu } from "./sysstat.ts";

export interface StepResult {
  rate: number;
  durationMs: number;
  sent: number;
  failed: number;
  achievedRate: number;
  /** Publish → acknowledgement (201, insert ack; nothing for the Redis emitter). */
  ack: Summary;
  delivery: Delivery;
  latency: Summary;
  latencyByNode: Record<string, Summary>;
  /** Wanted deliveries per second of publishing. */
  usefulPerSec: number;
  /** All deliveries (wanted or not) per second of publishing. */
  allPerSec: number;
  drainMs: number;
  ok: boolean;
  /** Why a step did not count as sustained. */
  reason: string;
}

export interface RigResult {
  system: SystemId;
  workload: Workload;
  idleCpu: CpuUse[];
  latency: StepResult | null;
  ramp: StepResult[];
  /** Highest ramp rate that passed; null if even the first failed. */
  zeroLossRate: number | null;
  /** Wanted deliveries per second at that rate. */
  zeroLossDeliveries: number | null;
  notes: string[];
  error?: string;
}

let stepCounter = 0;

/**
 * A rate is sustained only if messages keep arriving soon after they are sent: past this p99, the
 * system is queueing, and a longer step would lose what a short one still drains.
 */
export const LAG_LIMIT_MS = 2000;

/** Keeps a step's failure reason short and readable. */
function reasonOf(
  step: Omit<StepResult, "ok" | "reason">,
  drained: boolean,
  drainMs: number,
  errors: string[],
): string {
  const why: string[] = [];
  const faults = describeFaults({ ...step.delivery, stale: 0 });
  if (faults)
    why.push(
      faults + (drained ? "" : ` (not delivered ${Math.round(drainMs / 1000)} s after the last publish)`),
    );
  if (step.failed > 0)
    why.push(`${step.failed} publishes failed${errors[0] ? ` (${errors[0].slice(0, 60)})` : ""}`);
  if (step.latency.p99 > LAG_LIMIT_MS) why.push(`p99 ${Math.round(step.latency.p99)} ms: falling behind`);
  if (step.sent < Math.round((step.rate * step.durationMs) / 1000))
    why.push("publisher could not send in time");
  else if (step.achievedRate < step.rate * 0.9) why.push(`publish rate ${Math.round(step.achievedRate)}/s`);
  return why.join("; ");
}

/** What the clients saw of one step, summed over every client process. */
export interface CollectedStep {
  delivery: Delivery;
  /** All deliveries, wanted or not. */
  deliveries: number;
  latency: Summary;
  latencyByNode: Record<string, Summary>;
  /** Every latency sample the clients kept (a bounded sample per client, bench/stats.ts Reservoir). */
  samples: number[];
  /** Every client had every acknowledged message before `drainMs` ran out. */
  drained: boolean;
  drainMs: number;
}

/**
 * Waits up to `drainMs` for every client to have what the publisher had stored in `step` (`totals`),
 * then asks each client process for its report of the step (which it then forgets).
 */
export async function collectStep(
  clients: BenchChild[],
  step: number,
  totals: StepTotals,
  drainMs: number,
): Promise<CollectedStep> {
  const drainStart = performance.now();
  let drained = false;
  while (performance.now() - drainStart < drainMs) {
    const progress = await Promise.all(
      clients.map((c) => c.request<{ expected: number; delivered: number }>("progress", { step, totals })),
    );
    if (progress.every((p) => p.delivered >= p.expected)) {
      drained = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const measuredDrain = performance.now() - drainStart;
  const reports = await Promise.all(
    clients.map((c) => c.request<ProcessStepReport>("report", { step, totals }, 60_000)),
  );
  let delivery = emptyDelivery();
  let deliveries = 0;
  const all: number[] = [];
  let max = Number.NaN;
  const nodes = new Map<string, { values: number[]; max: number }>();
  for (const r of reports) {
    delivery = addDelivery(delivery, r.delivery);
    deliveries += r.deliveries;
    for (const [node, n] of Object.entries(r.byNode)) {
      const acc = nodes.get(node) ?? { values: [], max: Number.NaN };
      for (const v of n.latencies) {
        acc.values.push(v);
        all.push(v);
      }
      if (!Number.isNaN(n.max)) {
        acc.max = Number.isNaN(acc.max) ? n.max : Math.max(acc.max, n.max);
        max = Number.isNaN(max) ? n.max : Math.max(max, n.max);
      }
      nodes.set(node, acc);
    }
  }
  return {
    delivery,
    deliveries,
    latency: summarize(all, Number.isNaN(max) ? undefined : max),
    latencyByNode: Object.fromEntries([...nodes].map(([k, v]) => [k, summarize(v.values, v.max)])),
    samples: all,
    drained,
    drainMs: measuredDrain,
  };
}

export async function runStep(
  rig: Pick<Rig, "publisher" | "clients"> & { workload: Pick<Workload, "channels"> },
  rate: number,
  durationMs: number,
  drainMs: number,
  log: (line: string) => void,
): Promise<StepResult> {
  const step = ++stepCounter;
  const request: RunRequest = {
    step,
    rate,
    durationMs,
    channels: rig.workload.channels,
    deadlineMs: durationMs * 1.5 + 2000,
  };
  const pub = await rig.publisher.request<RunResult>("run", request, request.deadlineMs + 30_000);
  const totals: StepTotals = { sent: pub.sent, failed: pub.failed };
  const got = await collectStep(rig.clients, step, totals, drainMs);
  const sent = pub.sent.reduce((a, b) => a + b, 0);
  const failed = pub.failed.reduce((a, f) => a + f.length, 0);
  const seconds = durationMs / 1000;
  const partial = {
    rate,
    durationMs,
    sent,
    failed,
    achievedRate: pub.achievedRate,
    ack: pub.ack,
    delivery: got.delivery,
    latency: got.latency,
    latencyByNode: got.latencyByNode,
    usefulPerSec: got.delivery.delivered / seconds,
    allPerSec: got.deliveries / seconds,
    drainMs: got.drainMs,
  };
  const reason = reasonOf(partial, got.drained, drainMs, pub.errors);
  const result: StepResult = { ...partial, ok: reason === "" && isClean(got.delivery), reason };
  log(
    `    ${String(rate).padStart(5)} msg/s: ${result.ok ? "ok  " : "MISS"} p50 ${fmtMs(result.latency.p50)} p99 ${fmtMs(result.latency.p99)}` +
      `${result.reason ? `  (${result.reason})` : ""}`,
  );
  return result;
}

export function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return "—";
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`;
}

export async function measureRig(
  rig: Rig,
  options: BenchOptions,
  log: (line: string) => void,
): Promise<RigResult> {
  const result: RigResult = {
    system: rig.system,
    workload: rig.workload,
    idleCpu: [],
    latency: null,
    ramp: [],
    zeroLossRate: null,
    zeroLossDeliveries: null,
    notes: [],
  };
  // Idle: clients connected and subscribed, nothing published.
  await new Promise((r) => setTimeout(r, 1000));
  result.idleCpu = await sampleCpu(rig.watched, options.idleMs);
  log(`  idle CPU: ${result.idleCpu.map((c) => `${c.label} ${c.percent.toFixed(1)}%`).join(", ")}`);

  // Warm-up, not recorded: the first messages through fresh processes measure the JIT, not the system.
  await runStep(rig, options.fixedRate, options.warmupMs, options.latencyDrainMs, () => {});
  log(
    `  latency at ${options.fixedRate} msg/s for ${options.latencyMs / 1000} s (after ${options.warmupMs / 1000} s of warm-up):`,
  );
  result.latency = await runStep(rig, options.fixedRate, options.latencyMs, options.latencyDrainMs, log);

  log("  ramp:");
  let lastOk: StepResult | null = null;
  let firstMiss: StepResult | null = null;
  for (const rate of options.rampRates) {
    const step = await runStep(rig, rate, options.rampStepMs, options.rampDrainMs, log);
    result.ramp.push(step);
    if (!step.ok) {
      firstMiss = step;
      break;
    }
    lastOk = step;
  }
  // One step between the last pass and the first miss narrows the answer (the ramp doubles).
  if (firstMiss && lastOk && firstMiss.rate >= lastOk.rate * 1.9) {
    // Let the backlog of the missed step clear first.
    await new Promise((r) => setTimeout(r, options.rampDrainMs));
    const mid = Math.round(Math.sqrt(firstMiss.rate * lastOk.rate));
    const step = await runStep(rig, mid, options.rampStepMs, options.rampDrainMs, log);
    result.ramp.push(step);
    if (step.ok) lastOk = step;
  }
  result.zeroLossRate = lastOk?.rate ?? null;
  result.zeroLossDeliveries = lastOk ? lastOk.usefulPerSec : null;
  result.notes = await rig.notes().catch((err: unknown) => [String(err)]);
  return result;
}
