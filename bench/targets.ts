/**
 * The targets, judged as ratios within one run (the machine is shared and noisy: absolute numbers
 * move between runs, ratios much less). Pure: results in, verdicts out.
 */
import type { RigResult } from "./measure.ts";
import type { BenchResults, FanoutResult, TargetResult } from "./results.ts";
import type { SystemId } from "./rig.ts";

const ms = (v: number) => `${v.toFixed(1)} ms`;
const rate = (v: number) => `${Math.round(v).toLocaleString("en-US")}/s`;
const kb = (v: number) => `${(v / 1024).toFixed(1)} KB`;
const times = (v: number) => (Number.isNaN(v) ? "—" : Number.isFinite(v) ? `${v.toFixed(2)}×` : "∞×");

function rig(
  results: BenchResults,
  system: SystemId,
  workload: RigResult["workload"]["id"],
): RigResult | undefined {
  return results.rigs.find((r) => r.system === system && r.workload.id === workload && !r.error);
}

function fanout(
  results: BenchResults,
  server: FanoutResult["server"],
  clients: number,
): FanoutResult | undefined {
  return results.fanout.find((f) => f.server === server && f.clients === clients && !f.error);
}

function notMeasured(id: string, what: string, target: string, why: string): TargetResult {
  return { id, what, target, measured: `not measured (${why})`, pass: null };
}

function latencyTargets(results: BenchResults): TargetResult[] {
  const t = rig(results, "tailcast", "one-channel")?.latency;
  const f = rig(results, "floor", "one-channel")?.latency;
  const out: TargetResult[] = [];
  for (const [key, slack] of [
    ["p50", 1],
    ["p99", 3],
  ] as const) {
    const id = `latency-${key}`;
    const what = `tailcast ${key} latency (one channel, ${t?.rate ?? f?.rate ?? "fixed"} msg/s)`;
    const target = `≤ bus floor + ${slack} ms`;
    if (!t || !f || !Number.isFinite(t.latency[key]) || !Number.isFinite(f.latency[key])) {
      out.push(notMeasured(id, what, target, "tailcast or the floor did not run"));
      continue;
    }
    const d = t.latency[key] - f.latency[key];
    out.push({
      id,
      what,
      target,
      measured: `${ms(t.latency[key])} vs floor ${ms(f.latency[key])} (${d >= 0 ? "+" : ""}${ms(d)})`,
      pass: d <= slack,
    });
  }
  return out;
}

function rateTargets(results: BenchResults): TargetResult[] {
  const out: TargetResult[] = [];
  const cases = [
    ["rate-one-channel", "one-channel", 1, "zero-loss rate, one channel"],
    ["rate-many-channels", "many-channels", 5, "zero-loss useful deliveries/s, 100 channels"],
  ] as const;
  for (const [id, workload, factor, what] of cases) {
    const t = rig(results, "tailcast", workload);
    const c = rig(results, "classic", workload);
    const target = `≥ ${factor}× classic prototype`;
    if (!t || !c) {
      out.push(notMeasured(id, what, target, "tailcast or the prototype did not run"));
      continue;
    }
    const tv = (workload === "one-channel" ? t.zeroLossRate : t.zeroLossDeliveries) ?? 0;
    const cv = (workload === "one-channel" ? c.zeroLossRate : c.zeroLossDeliveries) ?? 0;
    const ratio = cv > 0 ? tv / cv : tv > 0 ? Number.POSITIVE_INFINITY : Number.NaN;
    out.push({
      id,
      what,
      target,
      measured: `${tv ? rate(tv) : "none"} vs ${cv ? rate(cv) : "none (lost even at the lowest rate)"} (${times(ratio)})`,
      pass: tv > 0 && (cv === 0 || tv >= factor * cv),
    });
  }
  return out;
}

function fanoutTargets(results: BenchResults): TargetResult[] {
  const out: TargetResult[] = [];
  const sizes = [...new Set(results.fanout.map((f) => f.clients))];
  for (const n of sizes) {
    const bare = fanout(results, "bare-ws", n);
    for (const [server, factor, label] of [
      ["tailcast-sio", 0.8, "Socket.IO"],
      ["tailcast-ws", 0.9, "/ws"],
    ] as const) {
      const id = `fanout-${server}-${n}`;
      const what = `fan-out to ${n.toLocaleString("en-US")} ${label} subscribers`;
      const target = `≥ ${factor}× bare ws`;
      const t = fanout(results, server, n);
      if (!bare || !t || !Number.isFinite(bare.deliveriesPerSec) || !Number.isFinite(t.deliveriesPerSec)) {
        out.push(notMeasured(id, what, target, "a fan-out run failed"));
        continue;
      }
      const ratio = t.deliveriesPerSec / bare.deliveriesPerSec;
      out.push({
        id,
        what,
        target,
        measured: `${rate(t.deliveriesPerSec)} vs ${rate(bare.deliveriesPerSec)} (${times(ratio)})`,
        pass: ratio >= factor && t.delivery.delivered === t.delivery.expected,
      });
    }
  }
  return out;
}

function memoryTargets(results: BenchResults): TargetResult[] {
  const out: TargetResult[] = [];
  // The largest N measured for all three servers: fixed costs spread thinnest there.
  const complete = [...new Set(results.fanout.map((f) => f.clients))].filter((c) =>
    (["bare-ws", "tailcast-sio", "tailcast-ws"] as const).every(
      (s) => fanout(results, s, c)?.rssPerConnection != null,
    ),
  );
  const n = Math.max(0, ...complete);
  const bare = fanout(results, "bare-ws", n)?.rssPerConnection;
  for (const [server, label] of [
    ["tailcast-sio", "Socket.IO"],
    ["tailcast-ws", "/ws"],
  ] as const) {
    const id = `memory-${server}`;
    const what = `idle RSS per subscribed ${label} connection`;
    const target = "≤ 1.5× bare ws and ≤ 20 KB";
    const t = fanout(results, server, n)?.rssPerConnection;
    if (t == null || bare == null) {
      out.push(notMeasured(id, what, target, "a fan-out run failed"));
      continue;
    }
    if (t <= 0 || bare <= 0) {
      // RSS fell while clients connected: a collection of startup garbage outweighed them.
      out.push(notMeasured(id, what, target, `unreadable at N=${n}: RSS shrank while clients connected`));
      continue;
    }
    out.push({
      id,
      what,
      target,
      measured: `${kb(t)} vs bare ${kb(bare)} (${times(t / bare)}, N=${n.toLocaleString("en-US")})`,
      pass: t <= 1.5 * bare && t <= 20 * 1024,
    });
  }
  return out;
}

function idleTarget(results: BenchResults): TargetResult[] {
  const what = "idle tailer CPU (clients subscribed, nothing published)";
  const target = "< 2% of a core";
  const t = rig(results, "tailcast", "one-channel");
  const tailers = t?.idleCpu.filter((c) => c.label.startsWith("tailer")) ?? [];
  if (tailers.length === 0) return [notMeasured("idle-cpu", what, target, "tailcast did not run")];
  if (results.meta.options.profile) {
    return [
      notMeasured("idle-cpu", what, target, "--profile: the sampling profiler itself costs ~5% of a core"),
    ];
  }
  const worst = Math.max(...tailers.map((c) => c.percent));
  return [
    {
      id: "idle-cpu",
      what,
      target,
      measured: tailers.map((c) => `${c.label} ${c.percent.toFixed(1)}%`).join(", "),
      pass: worst < 2,
    },
  ];
}

export function evaluateTargets(results: BenchResults): TargetResult[] {
  return [
    ...latencyTargets(results),
    ...rateTargets(results),
    ...fanoutTargets(results),
    ...memoryTargets(results),
    ...idleTarget(results),
  ];
}
