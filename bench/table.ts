/**
 * The results as Markdown tables: readable in a terminal, pasted as-is into bench/RESULTS.md. Pure.
 * `sections()` gives the same rows to the HTML report.
 */
import type { RigResult } from "./measure.ts";
import type { BenchResults } from "./results.ts";
import { SYSTEM_LABELS } from "./rig.ts";
import { describeFaults } from "./stats.ts";

export interface Section {
  title: string;
  headers: string[];
  rows: string[][];
  note?: string;
}

const ms = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? "—" : v >= 100 ? `${Math.round(v)}` : v.toFixed(1);
const int = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : Math.round(v).toLocaleString("en-US");
const pct = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)}%` : "—");

function rateCell(r: RigResult): string {
  if (r.error) return "—";
  if (r.zeroLossRate === null) {
    const first = r.ramp[0];
    return first ? `none (at ${first.rate}/s: ${first.reason || "lost"})` : "—";
  }
  const last = r.ramp.at(-1);
  const capped = r.ramp.every((s) => s.ok) && last !== undefined ? " (ramp top)" : "";
  return `${int(r.zeroLossRate)}${capped}`;
}

function faultsCell(r: RigResult): string {
  if (r.error) return `failed: ${r.error.split("\n")[0]}`;
  const l = r.latency;
  if (!l) return "—";
  const faults = describeFaults(l.delivery);
  const extra = l.delivery.unwanted > 0 ? `${int(l.delivery.unwanted)} unwanted` : "";
  return [faults, extra].filter(Boolean).join("; ") || "none";
}

export function sections(results: BenchResults): Section[] {
  const out: Section[] = [];
  const fixed = results.meta.options.fixedRate;
  out.push({
    title: "Latency and sustained rate",
    headers: [
      "system",
      "workload",
      "clients",
      `p50 ms @${fixed}/s`,
      "p99 ms",
      "max ms",
      "publish→ack p50 ms",
      "faults at that rate",
      "zero-loss msg/s",
      "useful deliveries/s",
    ],
    rows: results.rigs.map((r) => [
      SYSTEM_LABELS[r.system],
      r.workload.id === "one-channel" ? "1 channel" : `${r.workload.channels} channels`,
      String(r.workload.clients),
      ms(r.latency?.latency.p50),
      ms(r.latency?.latency.p99),
      ms(r.latency?.latency.max),
      r.system === "redis" ? "— (no ack)" : ms(r.latency?.ack.p50),
      faultsCell(r),
      rateCell(r),
      int(r.zeroLossDeliveries),
    ]),
    note: "Latency: publisher send → subscriber receive, every wanted delivery. Zero-loss: highest ramp step where every subscriber got every acknowledged message once, in order, within the drain time, with p99 latency under 2 s, and the publisher kept the rate.",
  });
  const perNode = results.rigs.filter((r) => r.latency && Object.keys(r.latency.latencyByNode).length > 1);
  if (perNode.length > 0) {
    out.push({
      title: "Latency per node (the node clients sit on)",
      headers: ["system", "workload", "node", "p50 ms", "p99 ms", "max ms"],
      rows: perNode.flatMap((r) =>
        Object.entries(r.latency?.latencyByNode ?? {}).map(([node, s]) => [
          r.system,
          r.workload.id,
          String(Number(node) + 1),
          ms(s.p50),
          ms(s.p99),
          ms(s.max),
        ]),
      ),
    });
  }
  out.push({
    title: "Idle CPU (% of one core; clients connected and subscribed, nothing published)",
    ...(results.meta.options.profile
      ? {
          note: "Run with --profile: profiled processes (ingest, tailers) include the sampling profiler's own cost.",
        }
      : {}),
    headers: ["system", "workload", "processes"],
    rows: results.rigs
      .filter((r) => r.idleCpu.length > 0)
      .map((r) => [r.system, r.workload.id, r.idleCpu.map((c) => `${c.label} ${pct(c.percent)}`).join(", ")]),
  });
  if (results.fanout.length > 0) {
    const bare = new Map(results.fanout.filter((f) => f.server === "bare-ws").map((f) => [f.clients, f]));
    out.push({
      title: "Fan-out ceiling (one server process, clients in two other processes)",
      headers: [
        "server",
        "clients",
        "messages",
        "deliveries/s",
        "× bare ws",
        "RSS per idle connection",
        "faults",
      ],
      rows: results.fanout.map((f) => {
        const b = bare.get(f.clients);
        const ratio = b && f.server !== "bare-ws" ? f.deliveriesPerSec / b.deliveriesPerSec : Number.NaN;
        return [
          f.server,
          int(f.clients),
          int(f.messages),
          int(f.deliveriesPerSec),
          Number.isFinite(ratio) ? ratio.toFixed(2) : "—",
          f.rssPerConnection === null ? "—" : `${(f.rssPerConnection / 1024).toFixed(1)} KB`,
          f.error ? `failed: ${f.error}` : describeFaults(f.delivery) || "none",
        ];
      }),
    });
  }
  if (results.recovery.length > 0) {
    const ks = [...new Set(results.recovery.map((r) => r.k))].sort((a, b) => a - b);
    const keys = [...new Set(results.recovery.map((r) => `${r.path}|${r.transport}`))];
    out.push({
      title: `Recovery: subscribe with \`since\` → ack, k missed messages (bus of ${int(results.recovery[0]?.busDocs)} documents), median ms`,
      headers: ["path", "transport", ...ks.map((k) => `k=${k.toLocaleString("en-US")}`)],
      rows: keys.map((key) => {
        const [path, transport] = key.split("|") as [string, string];
        return [
          path === "window" ? "node saw them (memory window)" : "node started after them (bus)",
          transport,
          ...ks.map((k) => {
            const r = results.recovery.find((x) => x.path === path && x.transport === transport && x.k === k);
            if (!r) return "—";
            return `${ms(r.medianMs)}${r.error ? ` (${r.error})` : ""}`;
          }),
        ];
      }),
    });
  }
  const part = results.partitioned;
  if (part) {
    out.push({
      title: "Partitioned buses: documents read per tailer, the same messages published over 400 channels",
      headers: ["buses", "clients placed", "tailer", "documents read", "of published", "per bus"],
      rows: part.reads.map((r) => [
        String(r.buses),
        r.buses === 1 ? "round robin" : "by bus (bus b → tailer b mod 3)",
        String(r.tailer),
        int(r.read),
        r.published > 0
          ? `${int(r.read)} / ${int(r.published)} (${Math.round((100 * r.read) / r.published)} %)`
          : "—",
        r.perBus.map(int).join(", "),
      ]),
    });
    out.push({
      title:
        "Partitioned buses: publish rate through one ingest process (batches of 100 over 400 channels, 32 in flight)",
      headers: ["buses", "messages/s"],
      rows: part.publish.map((p) => [String(p.buses), int(p.rate)]),
      note: "On FerretDB all buses share one server process and one disk: a lower bound of separate MongoDB deployments.",
    });
  }
  const slow = results.slowConsumer;
  if (slow) {
    const mib = (v: number) => (Number.isFinite(v) ? (v / 1024 / 1024).toFixed(1) : "—");
    const { readers: r, slowClient: c } = slow;
    out.push({
      title: `Slow consumer: the other subscribers' latency (p99 with the slow client ${Number.isFinite(slow.p99Ratio) ? slow.p99Ratio.toFixed(2) : "—"}× the baseline's)`,
      headers: [
        "condition",
        "blocks",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p99 ms of each block",
        "bulk MiB/s",
        "tailer RSS MiB peak / mean",
        "fullest buffer KiB",
        "cuts /ws + Socket.IO",
        "faults",
      ],
      rows: slow.phases.map((p) => [
        p.name,
        `${p.blocks} × ${slow.blockMs / 1000} s`,
        ms(p.latency.p50),
        ms(p.latency.p99),
        ms(p.latency.max),
        p.blockP99.map(ms).join(", "),
        mib(p.bulkBytesPerSec),
        `${mib(p.rss.peak)} / ${mib(p.rss.mean)}`,
        int(p.largestPendingBytes / 1024),
        `${p.cuts.ws} + ${p.cuts.socketIo}`,
        [describeFaults(p.steady), describeFaults(p.bulk) && `bulk: ${describeFaults(p.bulk)}`]
          .filter(Boolean)
          .join("; ") || "none",
      ]),
      note:
        `One tailer, ${r.socketIo} Socket.IO and ${r.ws} /ws subscribers on one channel carrying ${slow.steadyRate} small messages/s ` +
        `(latency: bus ts → receipt) and ${slow.bulkRate} messages/s of ${slow.bulkBytes / 1024} KiB all the time; bound ` +
        `${int(slow.maxPendingBytes / 1024)} KiB. Blocks alternate, baseline first and last. In a slow-client block a client ` +
        `on the channel stops reading, is cut, reconnects on the other transport and stops again: it connected ` +
        `${c.connections} times and was told of ${c.signalled} cuts${c.otherEnds > 0 ? ` (${c.otherEnds} ended without the signal)` : ""}.`,
    });
  }
  out.push({
    title: "Targets (ratios within this run)",
    headers: ["target", "goal", "measured", "verdict"],
    rows: results.targets.map((t) => [
      t.what,
      t.target,
      t.measured,
      t.pass === null ? "n/a" : t.pass ? "PASS" : "MISS",
    ]),
  });
  const notes = results.rigs.flatMap((r) => r.notes.map((n) => `${r.system} (${r.workload.id}): ${n}`));
  const skipped = results.skipped.map((s) => `${s.scenario}: skipped — ${s.reason}`);
  if (notes.length + skipped.length > 0) {
    out.push({ title: "Notes", headers: ["note"], rows: [...skipped, ...notes].map((n) => [n]) });
  }
  return out;
}

function escapeCell(s: string): string {
  return s.replaceAll("|", "\\|");
}

export function markdownTable(headers: string[], rows: string[][]): string {
  const lines = [`| ${headers.map(escapeCell).join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`];
  for (const row of rows) lines.push(`| ${row.map(escapeCell).join(" | ")} |`);
  return lines.join("\n");
}

export function renderTable(results: BenchResults): string {
  const m = results.meta.machine;
  const head = `${results.meta.command} — ${m.cpus}× ${m.cpuModel}, ${m.memoryGiB} GiB, node ${m.node}, ${m.database}; ${(results.meta.durationMs / 1000).toFixed(0)} s`;
  return [
    head,
    ...sections(results).map(
      (s) => `\n### ${s.title}\n\n${markdownTable(s.headers, s.rows)}${s.note ? `\n\n${s.note}` : ""}`,
    ),
  ].join("\n");
}
