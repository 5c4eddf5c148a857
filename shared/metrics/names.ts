/**
 * The series names a registry exports, as PromQL sees them: a histogram `x` is queried as `x_bucket`,
 * `x_sum` and `x_count`, a summary as `x`, `x_sum` and `x_count`. Read from the registry's own
 * exposition, so a check of dashboards and alerts (test/unit/dashboards.test.ts) never trusts a list
 * kept by hand.
 */
import type { Registry } from "prom-client";

const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

/** The metric families of Prometheus text format `exposition` (what `# TYPE` names). */
export function familyNames(exposition: string): Set<string> {
  return new Set([...exposition.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1] as string));
}

/** Every series name in Prometheus text format `exposition` (its `# TYPE` lines). */
export function seriesNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, type] = m as unknown as [string, string, string];
    for (const suffix of SUFFIXES[type] ?? [""]) names.add(`${name}${suffix}`);
  }
  return names;
}

export async function registeredSeries(registry: Registry): Promise<Set<string>> {
  return seriesNames(await registry.metrics());
}
