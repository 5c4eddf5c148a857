/**
 * `npm run bench -- soak --minutes 10` (README "Soak"): 500 msg/s over 100 channels for the whole run,
 * 1,000 subscribed clients on two tailers — readers, plus a slow client the nodes cut as a slow consumer
 * over and over and a client whose connection is dropped every few seconds. Every interval it reports
 * each process's RSS and heap, event-loop delay and the readers' p99 latency; at the end loss,
 * duplicates and order for every client. Pass: RSS of tailcast's processes and the p99 flat after
 * warm-up (least-squares slope, bench/soak/analysis.ts), no loss, no duplicate, nothing out of order.
 */
import { readFileSync, rmSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import type { DevDb } from "../../infra/devdb/launcher.ts";
import { startComponent } from "../../infra/local/component.ts";
import type { RunRequest, RunResult } from "../clients/publisher.ts";
import type { StepTotals } from "../clients/recorder.ts";
import { machineInfo } from "../machine.ts";
import { type BenchChild, startChild } from "../procs.ts";
import { captureCharts } from "../report/capture.ts";
import { Stack } from "../rig.ts";
import {
  type BenchContext,
  componentOptions,
  dbName,
  dropOnStop,
  fillThroughIngest,
} from "../scenarios/common.ts";
import { summarize } from "../stats.ts";
import { rssBytes } from "../sysstat.ts";
import { type ClientTotals, deliveryVerdict, flatness, type Point, rateVerdict } from "./analysis.ts";
import type { SoakClientSpec, SoakClientsConfig, StepReport } from "./clients.ts";
import type { SoakOptions } from "./options.ts";
import type { ProbeSample } from "./probe.ts";
import {
  type IntervalReport,
  intervalLine,
  type ProcessSeries,
  renderSoakHtml,
  type SoakResults,
  summaryLines,
} from "./report.ts";

const PROBE = pathToFileURL(join(REPO_ROOT, "bench", "soak", "probe.ts")).href;
/** tsx first, so the probe (TypeScript) can load; a second `--import tsx` from the launcher is a no-op. */
const PROBE_ARGS = ["--import", "tsx", "--import", PROBE];
const SAMPLE_MS = 5000;
/** Readers are asked about an interval this long after it ends, so its last messages have arrived. */
const DRAIN_MS = 3000;
/** Retention: more than the slow client stays away (its pause, plus the reconnect). */
const BUS_DOCS = 60_000;
const SLOW = { pauseMs: 50_000, readMs: 10_000 };
/** Recent messages a tailer keeps: what the slow client misses in a pause (and fills within warm-up). */
const RECOVERY_WINDOW = 30_000;
const RECONNECT_EVERY_MS = 10_000;
/** Flat: growth over the measured span within 10 % of the mean (RSS; at least 4 MB) or 25 % (p99; at least 5 ms). */
const RSS_FLAT = { relative: 0.1, absoluteMb: 4 };
const P99_FLAT = { relative: 0.25, absoluteMs: 5 };

interface Watched {
  label: string;
  pid: number | undefined;
  probe: string | null;
  judged: boolean;
}

const MB = 1024 * 1024;

export async function runSoak(
  db: DevDb,
  options: SoakOptions,
  log: (line: string) => void,
): Promise<SoakResults> {
  const started = Date.now();
  /** Minutes since publishing began: the charts' and the slopes' time axis. */
  let t0 = started;
  const minutesSince = (t: number) => (t - t0) / 60_000;
  const stack = new Stack();
  const probeDir = join(tmpdir(), `tailcast-soak-${process.pid}`);
  await mkdir(probeDir, { recursive: true });
  const probeFile = (label: string) => join(probeDir, `${label}.jsonl`);
  const probed = (label: string) => ({ nodeArgs: PROBE_ARGS, env: { SOAK_PROBE_FILE: probeFile(label) } });
  const ctx: BenchContext = {
    db,
    options: { busDocs: BUS_DOCS, profile: false } as BenchContext["options"],
    log,
    outDir: options.outDir,
  };
  try {
    const name = dbName("soak");
    stack.add(dropOnStop(db.uri, name));
    const withProbe = (o: ReturnType<typeof componentOptions>, label: string) => ({
      ...o,
      nodeArgs: PROBE_ARGS,
      env: { ...o.env, SOAK_PROBE_FILE: probeFile(label) },
    });
    const ingest = stack.add(
      await startComponent(withProbe(componentOptions(ctx, "functions", name, "ingest"), "ingest")),
    );
    await ingest.ready();
    log(`filling the bus to its ${BUS_DOCS} documents…`);
    await fillThroughIngest(ingest.url, BUS_DOCS);
    const tailerEnv = {
      // Holds what the slow client misses while paused, so it resumes from memory.
      TAILCAST_RECOVERY_WINDOW: String(RECOVERY_WINDOW),
      // Small, so the slow client, on small messages, is cut within its pause (README "Slow consumers").
      TAILCAST_MAX_PENDING_BYTES: String(128 * 1024),
      // A paused client cannot answer pings: with the default 25 s heartbeat the node would drop it for
      // that before its buffer fills.
      TAILCAST_WS_HEARTBEAT_MS: "120000",
    };
    const tailers = await Promise.all(
      [1, 2].map(async (i) =>
        stack.add(
          await startComponent(
            withProbe(componentOptions(ctx, "tailer", name, `tailer-${i}`, tailerEnv), `tailer-${i}`),
          ),
        ),
      ),
    );
    // A tail opening on a full FerretDB bus reads all of it first (docs/ferretdb.md): seconds, more under load.
    await Promise.all(tailers.map((t) => t.ready(180_000)));
    const urls = tailers.map((t) => t.url);

    // Readers alternate nodes and transports; each on one channel. The two special clients are on both nodes.
    const readers = options.clients - 2;
    const groups: SoakClientSpec[][] = [[], []];
    for (let i = 0; i < readers; i++) {
      const node = i % 2;
      (groups[node] as SoakClientSpec[]).push({
        kind: "reader",
        spec: {
          transport: Math.floor(i / 2) % 2 === 0 ? "tailcast-sio" : "tailcast-ws",
          url: urls[node] as string,
          node,
          channels: [i % options.channels],
        },
      });
    }
    const all = Array.from({ length: options.channels }, (_, c) => c);
    const specials: SoakClientSpec[] = [
      // Every channel: enough traffic to fill its socket while it is paused.
      { kind: "slow", urls, channels: all },
      { kind: "reconnecting", urls: [...urls].reverse(), channels: all.slice(0, 10) },
    ];
    const clientGroups = [...groups, specials];
    const clients: BenchChild[] = await Promise.all(
      clientGroups.map((group, i) => {
        const config: SoakClientsConfig = {
          name: `c${i + 1}`,
          clients: group,
          samplesPerStep: 200,
          connectConcurrency: 50,
          slow: SLOW,
          reconnectEveryMs: RECONNECT_EVERY_MS,
        };
        return startChild(`soak-clients-${i + 1}`, {
          script: "soak/clients.ts",
          config,
          ...probed(`clients-${i + 1}`),
        });
      }),
    );
    for (const c of clients) stack.add(c);
    await Promise.all(clients.map((c) => c.request("connect", undefined, 180_000)));
    log(`${options.clients} clients connected (${readers} readers, a slow one, a reconnecting one)`);
    const publisher = stack.add(
      await startChild("soak-publisher", {
        script: "clients/publisher.ts",
        // Enough requests in flight for the rate at the ingest's group-commit latency on a loaded machine.
        config: { kind: "http", urls: [ingest.url], inFlight: 128 },
        ...probed("publisher"),
      }),
    );

    const watched: Watched[] = [
      { label: "database", pid: db.pid, probe: null, judged: false },
      { label: "ingest", pid: ingest.pid, probe: probeFile("ingest"), judged: true },
      ...tailers.map((t, i) => ({
        label: `tailer-${i + 1}`,
        pid: t.pid,
        probe: probeFile(`tailer-${i + 1}`),
        judged: true,
      })),
      { label: "publisher", pid: publisher.pid, probe: probeFile("publisher"), judged: false },
      ...clients.map((c, i) => ({
        label: `clients-${i + 1}`,
        pid: c.pid,
        probe: probeFile(`clients-${i + 1}`),
        judged: false,
      })),
    ];
    const rss = new Map<string, Point[]>(watched.map((w) => [w.label, []]));
    const sampleRss = () => {
      const x = minutesSince(Date.now());
      for (const w of watched) {
        const bytes = w.pid === undefined ? null : rssBytes(w.pid);
        if (bytes !== null) rss.get(w.label)?.push({ x, y: bytes / MB });
      }
    };
    t0 = Date.now();
    const sampler = setInterval(sampleRss, SAMPLE_MS);
    sampleRss();

    const cuts = async () => {
      let total = 0;
      for (const t of tailers) {
        const stats = (await (await fetch(`${t.url}/stats`)).json()) as {
          slowConsumers?: { disconnects: number };
        };
        total += stats.slowConsumers?.disconnects ?? 0;
      }
      return total;
    };
    const intervals: IntervalReport[] = [];
    const steps: StepTotals[] = [];
    const count = Math.max(1, Math.round((options.minutes * 60) / options.intervalSec));
    const report = async (index: number, result: RunResult, endMinute: number) => {
      const step = steps[index] as StepTotals;
      const reps = await Promise.all(
        clients.slice(0, 2).map((c) => c.request<StepReport>("report", { step: index, totals: step })),
      );
      const latencies = reps.flatMap((r) => r.latencies);
      const readersDelivery = reps.reduce(
        (a, r) => ({
          expected: a.expected + r.delivery.expected,
          delivered: a.delivered + r.delivery.delivered,
          duplicates: a.duplicates + r.delivery.duplicates,
          disorders: a.disorders + r.delivery.disorders,
        }),
        { expected: 0, delivered: 0, duplicates: 0, disorders: 0 },
      );
      const maxes = reps.map((r) => r.max).filter((v) => !Number.isNaN(v));
      const processes: IntervalReport["processes"] = {};
      for (const w of watched) {
        const last = rss.get(w.label)?.at(-1);
        const probe = w.probe ? lastProbe(w.probe) : null;
        processes[w.label] = {
          rssMb: last ? last.y : null,
          heapUsedMb: probe ? probe.heapUsed / MB : null,
          lagP99Ms: probe ? probe.lagP99 : null,
        };
      }
      const interval: IntervalReport = {
        index,
        endMinute,
        achievedRate: result.achievedRate,
        acked: result.sent.reduce((s, n) => s + n, 0) - result.failed.reduce((s, f) => s + f.length, 0),
        latency: summarize(latencies, maxes.length ? Math.max(...maxes) : undefined),
        readers: readersDelivery,
        slowConsumerCuts: await cuts(),
        processes,
      };
      intervals.push(interval);
      log(intervalLine(interval));
    };

    log(
      `publishing ${options.rate} msg/s over ${options.channels} channels for ${options.minutes} min, reporting every ${options.intervalSec} s`,
    );
    let previous: Promise<void> = Promise.resolve();
    for (let index = 0; index < count; index++) {
      const request: RunRequest = {
        step: index,
        rate: options.rate,
        durationMs: options.intervalSec * 1000,
        channels: options.channels,
        // Each interval lasts its time: a machine that cannot take the rate shows a lower achieved rate.
        deadlineMs: options.intervalSec * 1000,
      };
      const result = await publisher.request<RunResult>("run", request, request.deadlineMs + 30_000);
      steps[index] = { sent: result.sent, failed: result.failed };
      const endMinute = minutesSince(Date.now());
      await previous;
      previous = new Promise((r) => setTimeout(r, DRAIN_MS)).then(() => report(index, result, endMinute));
    }
    await previous;
    clearInterval(sampler);

    // The slow and the reconnecting client stop misbehaving and catch up; then every client is counted.
    await clients[2]?.request("settle");
    const deadline = Date.now() + 120_000;
    for (;;) {
      const p = await (clients[2] as BenchChild).request<{ expected: number; delivered: number }>(
        "progress",
        { steps },
      );
      if (p.delivered >= p.expected || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const totals: ClientTotals[] = (
      await Promise.all(clients.map((c) => c.request<ClientTotals[]>("final", { steps }, 120_000)))
    ).flat();

    const warm = options.warmupMinutes;
    const end = intervals.at(-1)?.endMinute ?? 0;
    const processes: ProcessSeries[] = watched.map((w) => {
      // While publishing: setup before it and the catching up after it are not the soak.
      const samples = (w.probe ? allProbes(w.probe) : []).filter((s) => {
        const x = minutesSince(s.at);
        return x >= 0 && x <= end;
      });
      const points = rss.get(w.label) ?? [];
      return {
        label: w.label,
        judged: w.judged,
        rss: points,
        heapUsed: samples.map((s) => ({ x: minutesSince(s.at), y: s.heapUsed / MB })),
        lagP99: samples.map((s) => ({ x: minutesSince(s.at), y: s.lagP99 })),
        lagMax: samples.map((s) => ({ x: minutesSince(s.at), y: s.lagMax })),
        rssFlatness: flatness(points, warm, RSS_FLAT.relative, RSS_FLAT.absoluteMb),
      };
    });
    const p99Flatness = flatness(
      intervals.map((i) => ({ x: i.endMinute, y: i.latency.p99 })),
      warm,
      P99_FLAT.relative,
      P99_FLAT.absoluteMs,
    );
    const delivery = deliveryVerdict(totals);
    const rate = rateVerdict(intervals, options.rate, warm);
    const misses: string[] = [];
    if (!rate.held) {
      misses.push(
        `the rate was not held (${rate.min.toFixed(0)}–${rate.max.toFixed(0)} of ${rate.target} msg/s)`,
      );
    }
    for (const p of processes) {
      if (p.judged && p.rssFlatness.flat === false) misses.push(`${p.label} RSS grows`);
    }
    if (p99Flatness.flat === false) misses.push("p99 latency grows");
    if (!delivery.clean) misses.push("loss, duplicates or disorder");
    const machine = await machineInfo(db);
    return {
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      command: `npm run bench -- soak --minutes ${options.minutes}${options.intervalSec === 60 ? "" : ` --interval ${options.intervalSec}`}`,
      machine,
      options,
      intervals,
      processes,
      p99Flatness,
      rate,
      clients: totals,
      delivery,
      pass: misses.length === 0,
      misses,
    };
  } finally {
    await stack.stop();
    rmSync(probeDir, { recursive: true, force: true });
  }
}

function allProbes(file: string): ProbeSample[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as ProbeSample);
  } catch {
    return [];
  }
}

function lastProbe(file: string): ProbeSample | null {
  return allProbes(file).at(-1) ?? null;
}

/** Writes `<outDir>/soak-<time>.json` and `.html` (and `latest-soak.*`), and the plot. */
export async function writeSoakReport(results: SoakResults, log: (line: string) => void): Promise<void> {
  const dir = resolve(REPO_ROOT, results.options.outDir);
  await mkdir(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, "-");
  const json = join(dir, `soak-${stamp}.json`);
  const html = join(dir, `soak-${stamp}.html`);
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(html, await renderSoakHtml(results));
  await copyFile(json, join(dir, "latest-soak.json"));
  await copyFile(html, join(dir, "latest-soak.html"));
  log(`report: ${json}\n        ${html}`);
  try {
    await captureCharts(html, results.options.plot);
    log(`plot: ${results.options.plot}`);
  } catch (err) {
    log(
      `plot not written (no Chromium? set TAILCAST_CHROMIUM): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export { summaryLines };
