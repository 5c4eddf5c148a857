/**
 * The soak's report: its results type, the console lines, and a self-contained HTML page with the
 * charts (Chart.js inlined as in bench/report/html.ts), from which the plot (docs/soak.png) is taken.
 */

import { PALETTE } from "../report/charts.ts";
import { chartLibrary, DRAW, escapeHtml, STYLE, scriptJson } from "../report/html.ts";
import type { MachineInfo } from "../results.ts";
import type { Summary } from "../stats.ts";
import type { ClientTotals, DeliveryVerdict, Flatness, Point, RateVerdict } from "./analysis.ts";
import type { SoakOptions } from "./options.ts";

export interface ProcessSeries {
  label: string;
  /** Judged for flatness (tailcast's own processes); the others are reported. */
  judged: boolean;
  /** MB over minutes, sampled by the runner from /proc. */
  rss: Point[];
  /** From the probe (Node processes only). */
  heapUsed: Point[];
  lagP99: Point[];
  lagMax: Point[];
  rssFlatness: Flatness;
}

export interface IntervalReport {
  index: number;
  /** Minutes since the start, at the interval's end. */
  endMinute: number;
  achievedRate: number;
  acked: number;
  /** Latency of the readers' deliveries, ms. */
  latency: Summary;
  readers: { expected: number; delivered: number; duplicates: number; disorders: number };
  slowConsumerCuts: number;
  /** Per process, at the interval's end: MB, and ms of event-loop delay over the interval. */
  processes: Record<string, { rssMb: number | null; heapUsedMb: number | null; lagP99Ms: number | null }>;
}

export interface SoakResults {
  startedAt: string;
  durationMs: number;
  command: string;
  machine: MachineInfo;
  options: SoakOptions;
  intervals: IntervalReport[];
  processes: ProcessSeries[];
  p99Flatness: Flatness;
  rate: RateVerdict;
  clients: ClientTotals[];
  delivery: DeliveryVerdict;
  pass: boolean;
  /** Why it did not pass, one line each. */
  misses: string[];
}

const mb = (n: number | null) => (n === null ? "—" : n.toFixed(1));
const f1 = (n: number | null | undefined) =>
  n === null || n === undefined || !Number.isFinite(n) ? "—" : n.toFixed(1);

/** One console line per interval. */
export function intervalLine(r: IntervalReport): string {
  const procs = Object.entries(r.processes)
    .map(([label, p]) => `${label} ${mb(p.rssMb)}/${mb(p.heapUsedMb)} MB lag ${f1(p.lagP99Ms)} ms`)
    .join("; ");
  const lost = r.readers.expected - r.readers.delivered;
  return (
    `[${r.endMinute.toFixed(1)} min] ${r.achievedRate.toFixed(0)} msg/s acked; readers p50 ${f1(r.latency.p50)} ` +
    `p99 ${f1(r.latency.p99)} max ${f1(r.latency.max)} ms; lost ${lost}, dup ${r.readers.duplicates}, ` +
    `disorder ${r.readers.disorders}; slow-consumer cuts ${r.slowConsumerCuts}\n    RSS/heap: ${procs}`
  );
}

function describeFlatness(f: Flatness, unit: string): string {
  if (f.slopePerMinute === null) return "no verdict (fewer than two samples after warm-up)";
  const verdict = f.flat ? "flat" : "GROWING";
  return `${f.slopePerMinute >= 0 ? "+" : ""}${f.slopePerMinute.toFixed(2)} ${unit}/min (drift ${f1(f.drift)} ${unit} over the measured span, allowed ${f1(f.allowed)}; mean ${f1(f.mean)} ${unit}): ${verdict}`;
}

/** The end-of-run summary, as printed. */
export function summaryLines(r: SoakResults): string[] {
  const lines = [
    `soak: ${r.options.minutes} min, ${r.options.rate} msg/s over ${r.options.channels} channels, ${r.options.clients} clients on two tailers; warm-up ${r.options.warmupMinutes.toFixed(1)} min left out of the slopes`,
    "RSS slope after warm-up (least squares):",
    ...r.processes.map(
      (p) =>
        `  ${p.label}${p.judged ? "" : " (reported, not judged)"}: ${describeFlatness(p.rssFlatness, "MB")}`,
    ),
    `achieved rate after warm-up: ${f1(r.rate.min)}–${f1(r.rate.max)} of ${r.rate.target} msg/s: ${r.rate.held ? "held" : "NOT HELD"}`,
    `readers' p99 latency slope: ${describeFlatness(r.p99Flatness, "ms")}`,
    `delivery over ${r.delivery.clients} clients: lost ${r.delivery.lost}, duplicates ${r.delivery.duplicates}, out of order ${r.delivery.disorders}`,
    `slow-consumer cuts counted by the tailers: ${r.intervals.at(-1)?.slowConsumerCuts ?? 0} (a client still paused when it is cut is terminated, so it never reads the code)`,
  ];
  for (const c of r.clients.filter((c) => c.kind !== "reader")) {
    lines.push(
      `  ${c.name}: ${c.delivered}/${c.expected} delivered, ${c.duplicates} dup, ${c.disorders} out of order, ${c.reconnects} reconnects, ${c.slowConsumerCuts} slow_consumer codes read, ${c.gaps} gaps`,
    );
  }
  for (const c of r.delivery.faulty) {
    lines.push(
      `  faulty ${c.name}: ${c.expected - c.delivered} lost, ${c.duplicates} dup, ${c.disorders} out of order`,
    );
  }
  lines.push(r.pass ? "PASS" : `MISS: ${r.misses.join("; ")}`);
  return lines;
}

function lineChart(title: string, yTitle: string, series: Array<{ label: string; points: Point[] }>) {
  return {
    id: title.replace(/[^a-z0-9]+/gi, "-").toLowerCase(),
    title,
    config: {
      type: "line",
      data: {
        datasets: series.map((s, i) => ({
          label: s.label,
          data: s.points,
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          pointRadius: 1.5,
          borderWidth: 1.5,
        })),
      },
      options: {
        animation: false,
        responsive: false,
        parsing: false,
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { type: "linear", title: { display: true, text: "minutes" } },
          y: { title: { display: true, text: yTitle }, beginAtZero: true },
        },
      },
    },
  };
}

export function soakCharts(r: SoakResults) {
  const node = r.processes.filter((p) => p.heapUsed.length > 0);
  return [
    lineChart(
      "RSS per process (MB)",
      "MB",
      r.processes.map((p) => ({ label: p.label, points: p.rss })),
    ),
    lineChart(
      "Heap used per Node process (MB)",
      "MB",
      node.map((p) => ({ label: p.label, points: p.heapUsed })),
    ),
    lineChart("Readers' delivery latency per interval (ms)", "ms", [
      { label: "p99", points: r.intervals.map((i) => ({ x: i.endMinute, y: i.latency.p99 })) },
      { label: "p50", points: r.intervals.map((i) => ({ x: i.endMinute, y: i.latency.p50 })) },
    ]),
    lineChart(
      "Event-loop delay p99 per Node process (ms)",
      "ms",
      node.map((p) => ({ label: p.label, points: p.lagP99 })),
    ),
  ];
}

export async function renderSoakHtml(r: SoakResults): Promise<string> {
  const charts = soakCharts(r);
  const m = r.machine;
  const figures = charts
    .map(
      (c) =>
        `<figure><figcaption>${escapeHtml(c.title)}</figcaption><canvas id="chart-${escapeHtml(c.id)}" width="540" height="300"></canvas></figure>`,
    )
    .join("\n");
  const verdict = `<p class="${r.pass ? "PASS" : "MISS"}"><b>${r.pass ? "PASS" : "MISS"}</b></p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tailcast soak — ${escapeHtml(r.startedAt)}</title>
<style>${STYLE} p.PASS { color: #166534; } p.MISS { color: #991b1b; } pre { font-size: 12px; }</style></head>
<body>
<h1>tailcast soak</h1>
<div class="meta">${escapeHtml(r.command)} · ${escapeHtml(r.startedAt)} · ${(r.durationMs / 60000).toFixed(1)} min ·
${m.cpus}× ${escapeHtml(m.cpuModel)}, ${m.memoryGiB} GiB · node ${escapeHtml(m.node)} · ${escapeHtml(m.database)}</div>
<div class="charts">${figures}
<figure><figcaption>Verdict</figcaption><pre>${escapeHtml(summaryLines(r).join("\n"))}</pre></figure></div>
${verdict}
<script type="application/json" id="bench-results">${scriptJson(r)}</script>
<script type="application/json" id="bench-charts">${scriptJson(charts)}</script>
<script>${(await chartLibrary()).replaceAll("</script", "<\\/script")}</script>
<script>${DRAW}</script>
</body></html>
`;
}
