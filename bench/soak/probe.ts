/**
 * Loaded into every Node process of the soak (`--import`, after tsx): every few seconds it appends one
 * JSON line to the file named by SOAK_PROBE_FILE — memory and the event loop's delay since the previous
 * line — so the runner can report heap and event-loop lag of processes it does not own the code of
 * (the tailers and the ingest function run unchanged). Without SOAK_PROBE_FILE it does nothing.
 */
import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

export interface ProbeSample {
  /** Wall-clock ms. */
  at: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Event-loop delay over the interval, ms. */
  lagP99: number;
  lagMax: number;
}

const file = process.env.SOAK_PROBE_FILE;
const everyMs = Number(process.env.SOAK_PROBE_INTERVAL_MS ?? 5000);

if (file) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const sample: ProbeSample = {
      at: Date.now(),
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      // The histogram is in nanoseconds and includes the sampling resolution.
      lagP99: Math.max(0, delay.percentile(99) / 1e6 - 10),
      lagMax: Math.max(0, delay.max / 1e6 - 10),
    };
    delay.reset();
    appendFileSync(file, `${JSON.stringify(sample)}\n`);
  }, everyMs);
  timer.unref();
}
