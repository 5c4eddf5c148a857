/**
 * The chart specifications of the HTML report, computed from the results (pure): plain Chart.js
 * configurations, serialised into the page. Log scales where systems differ by orders of magnitude.
 */
import type { BenchResults } from "../results.ts";
import { SYSTEM_SHORT } from "../rig.ts";

export interface ChartSpec {
  id: string;
  title: string;
  config: Record<string, unknown>;
}

/** Series colours, shared by every report's charts. */
export const PALETTE = [
  "#2563eb",
  "#dc2626",
  "#16a34a",
  "#9333ea",
  "#ea580c",
  "#0891b2",
  "#ca8a04",
  "#4b5563",
  "#db2777",
  "#65a30d",
  "#7c3aed",
  "#0f766e",
];
const color = (i: number) => PALETTE[i % PALETTE.length] as string;
const finite = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? null : v;

function bar(
  labels: string[],
  datasets: Array<{ label: string; data: Array<number | null> }>,
  yTitle: string,
  log: boolean,
  stacked = false,
) {
  return {
    type: "bar",
    data: { labels, datasets: datasets.map((d, i) => ({ ...d, backgroundColor: color(i) })) },
    options: {
      animation: false,
      responsive: false,
      plugins: { legend: { position: "bottom" } },
      scales: {
        x: { stacked },
        y: { stacked, type: log ? "logarithmic" : "linear", title: { display: true, text: yTitle } },
      },
    },
  };
}

export function chartSpecs(results: BenchResults): ChartSpec[] {
  const specs: ChartSpec[] = [];
  const one = results.rigs.filter((r) => r.workload.id === "one-channel" && r.latency);
  if (one.length > 0) {
    specs.push({
      id: "latency",
      title: `End-to-end latency at ${results.meta.options.fixedRate} msg/s, one channel (ms, log scale)`,
      config: bar(
        one.map((r) => SYSTEM_SHORT[r.system]),
        [
          { label: "p50", data: one.map((r) => finite(r.latency?.latency.p50)) },
          { label: "p99", data: one.map((r) => finite(r.latency?.latency.p99)) },
        ],
        "ms",
        true,
      ),
    });
  }
  const systems = [...new Set(results.rigs.map((r) => r.system))];
  if (systems.length > 0) {
    specs.push({
      id: "rate",
      title: "Highest zero-loss rate: wanted deliveries per second (log scale)",
      config: bar(
        systems.map((s) => SYSTEM_SHORT[s]),
        (["one-channel", "many-channels"] as const).map((w) => ({
          label:
            w === "one-channel"
              ? "1 channel, all clients"
              : `${results.meta.options.channels} channels, one each`,
          data: systems.map((s) =>
            finite(results.rigs.find((r) => r.system === s && r.workload.id === w)?.zeroLossDeliveries),
          ),
        })),
        "deliveries/s",
        true,
      ),
    });
  }
  if (results.fanout.length > 0) {
    const sizes = [...new Set(results.fanout.map((f) => f.clients))];
    const servers = [...new Set(results.fanout.map((f) => f.server))];
    specs.push({
      id: "fanout",
      title: "Fan-out: deliveries per second from one server process",
      config: bar(
        sizes.map((n) => `${n.toLocaleString("en-US")} clients`),
        servers.map((s) => ({
          label: s,
          data: sizes.map((n) =>
            finite(results.fanout.find((f) => f.server === s && f.clients === n)?.deliveriesPerSec),
          ),
        })),
        "deliveries/s",
        false,
      ),
    });
  }
  if (results.recovery.length > 0) {
    const ks = [...new Set(results.recovery.map((r) => r.k))].sort((a, b) => a - b);
    const series = [...new Set(results.recovery.map((r) => `${r.path} / ${r.transport}`))];
    specs.push({
      id: "recovery",
      title: "Recovery: subscribe with since → ack, by missed messages k (ms, log–log)",
      config: {
        type: "line",
        data: {
          labels: ks.map(String),
          datasets: series.map((name, i) => ({
            label: name,
            borderColor: color(i),
            backgroundColor: color(i),
            data: ks.map((k) =>
              finite(
                results.recovery.find((r) => `${r.path} / ${r.transport}` === name && r.k === k)?.medianMs,
              ),
            ),
          })),
        },
        options: {
          animation: false,
          responsive: false,
          plugins: { legend: { position: "bottom" } },
          scales: {
            x: { title: { display: true, text: "k missed messages" } },
            y: { type: "logarithmic", title: { display: true, text: "ms" } },
          },
        },
      },
    });
  }
  const idle = results.rigs.filter((r) => r.workload.id === "one-channel" && r.idleCpu.length > 0);
  if (idle.length > 0) {
    const labels = [...new Set(idle.flatMap((r) => r.idleCpu.map((c) => c.label)))];
    specs.push({
      id: "idle",
      title: "Idle CPU per process, one channel (% of one core, stacked)",
      config: bar(
        idle.map((r) => SYSTEM_SHORT[r.system]),
        labels.map((l) => ({
          label: l,
          data: idle.map((r) => finite(r.idleCpu.find((c) => c.label === l)?.percent) ?? 0),
        })),
        "% of a core",
        false,
        true,
      ),
    });
  }
  return specs;
}
