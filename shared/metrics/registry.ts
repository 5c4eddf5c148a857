/**
 * One Prometheus registry per process (or per in-process instance in tests), never prom-client's
 * global one: two apps in one test process would otherwise register the same names twice. Each half
 * defines its metrics in one file (functions/metrics.ts, tailer/metrics.ts) on a registry made here.
 */
import { Counter, collectDefaultMetrics, Gauge, type Registry as PromRegistry, Registry } from "prom-client";

export type { Registry } from "prom-client";

/** A registry with Node's process metrics (event-loop lag, heap, GC, CPU, file descriptors). */
export function createMetricsRegistry(): PromRegistry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

type Labels<L extends string> = Partial<Record<L, string>>;

/**
 * A counter whose value is read, at scrape time, from a total the code already keeps (the tail loop's
 * gaps, recovery outcomes…) instead of being incremented beside it. `read` must be monotonic.
 */
export function counterOf<L extends string = never>(
  registry: PromRegistry,
  spec: { name: string; help: string; labelNames?: readonly L[] },
  read: () => Iterable<readonly [Labels<L>, number]>,
): Counter<L> {
  return new Counter<L>({
    ...spec,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/** A gauge read at scrape time; `NaN` says "unknown" (a comparison with it never fires an alert). */
export function gaugeOf<L extends string = never>(
  registry: PromRegistry,
  spec: { name: string; help: string; labelNames?: readonly L[] },
  read: () => Iterable<readonly [Labels<L>, number]> | Promise<Iterable<readonly [Labels<L>, number]>>,
): Gauge<L> {
  return new Gauge<L>({
    ...spec,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    async collect() {
      const values = await read();
      this.reset();
      for (const [labels, value] of values) this.set(labels, value);
    },
  });
}

/** One unlabelled value. */
export const single = (value: number): Array<readonly [Record<string, never>, number]> => [[{}, value]];
