/**
 * infra/grafana/tailcast.json and infra/prometheus/alerts.yml: both parse, and every metric they read
 * is one the code exports — names taken from the two halves' own registries, not from a list. With
 * Debian's `promtool` on PATH the rules are also checked, and their behaviour unit-tested
 * (infra/prometheus/alerts.test.yml); CI does not need it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { createIngestMetrics } from "../../functions/metrics.ts";
import { familyNames, registeredSeries } from "../../shared/metrics/names.ts";
import { createMetricsRegistry } from "../../shared/metrics/registry.ts";
import { createTailerMetrics } from "../../tailer/metrics.ts";
import { metricNames } from "../helpers/promql-names.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DASHBOARD = join(ROOT, "infra", "grafana", "tailcast.json");
const ALERTS = join(ROOT, "infra", "prometheus", "alerts.yml");
const ALERT_TESTS = join(ROOT, "infra", "prometheus", "alerts.test.yml");
const README = join(ROOT, "README.md");

/** Written by Prometheus itself for every target it scrapes, not by any exporter. */
const PROMETHEUS_OWN = new Set(["up"]);

async function exported(): Promise<Set<string>> {
  const ingest = await registeredSeries(createIngestMetrics(createMetricsRegistry()).registry);
  const tailer = await registeredSeries(createTailerMetrics(createMetricsRegistry()).registry);
  return new Set([...ingest, ...tailer, ...PROMETHEUS_OWN]);
}

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Array<{ expr: string; refId: string }>;
  panels?: Panel[];
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function dashboard(): { uid: string; title: string; panels: Panel[] } {
  return JSON.parse(readFileSync(DASHBOARD, "utf8"));
}

function rules(): Rule[] {
  const doc = load(readFileSync(ALERTS, "utf8")) as { groups: Array<{ name: string; rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

describe('README "Metrics"', () => {
  it("lists every tailcast metric the code exports, and no other", async () => {
    const text = readFileSync(README, "utf8");
    const start = text.indexOf("\n### Metrics\n");
    expect(start).toBeGreaterThan(0);
    const section = text.slice(start, text.indexOf("\n### ", start + 1));
    const listed = new Set(section.match(/\btailcast_[a-z_]+[a-z]/g));
    const families = new Set<string>();
    for (const registry of [
      createIngestMetrics(createMetricsRegistry()).registry,
      createTailerMetrics(createMetricsRegistry()).registry,
    ]) {
      for (const name of familyNames(await registry.metrics()))
        if (name.startsWith("tailcast_")) families.add(name);
    }
    expect([...families].filter((n) => !listed.has(n))).toEqual([]);
    expect([...listed].filter((n) => !families.has(n))).toEqual([]);
  });
});

describe("metricNames", () => {
  it("finds the metrics of an expression, not its functions, labels, ranges, groupings or variables", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, instance) (rate(a_bucket{route=~"/v1/x|y", le!="1"}[$__rate_interval]))) / ignoring(job) b_total > 0.5 and on(instance) c == 0',
      ).sort(),
    ).toEqual(["a_bucket", "b_total", "c"]);
    expect(metricNames("min(tailcast_bus_retention_seconds) < 600")).toEqual([
      "tailcast_bus_retention_seconds",
    ]);
  });
});

describe("infra/grafana/tailcast.json", () => {
  it("parses, has a uid, and panels with unique ids and a query each", () => {
    const d = dashboard();
    expect(d.uid).toBe("tailcast");
    const panels = allPanels(d.panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const graphs = panels.filter((p) => p.type !== "row");
    expect(graphs.length).toBeGreaterThan(10);
    for (const p of graphs) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it("reads only metrics the code exports, and shows what operators need", async () => {
    const known = await exported();
    const used = allPanels(dashboard().panels).flatMap((p) =>
      (p.targets ?? []).flatMap((t) => metricNames(t.expr)),
    );
    expect(used.filter((n) => !known.has(n))).toEqual([]);
    for (const needed of [
      "tailcast_messages_appended_total",
      "tailcast_publish_duration_seconds_bucket",
      "tailcast_deliveries_total",
      "tailcast_delivery_latency_seconds_bucket",
      "tailcast_connections",
      "tailcast_tail_lag_seconds",
      "tailcast_tail_gaps_total",
      "tailcast_slow_consumer_disconnects_total",
      "nodejs_eventloop_lag_p99_seconds",
    ]) {
      expect(used, needed).toContain(needed);
    }
  });
});

describe("infra/prometheus/alerts.yml", () => {
  it("parses into named rules, each with an expression, a severity and a summary", () => {
    const all = rules();
    expect(all.length).toBeGreaterThan(5);
    for (const r of all) {
      expect(r.alert, r.expr).toMatch(/^Tailcast[A-Za-z]+$/);
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
    expect(new Set(all.map((r) => r.alert)).size).toBe(all.length);
  });

  it("reads only metrics the code exports, and covers readiness, lag, gaps, publish errors and retention", async () => {
    const known = await exported();
    const used = rules().flatMap((r) => metricNames(r.expr));
    expect(used.filter((n) => !known.has(n))).toEqual([]);
    for (const needed of [
      "tailcast_tailer_ready",
      "tailcast_tail_lag_seconds",
      "tailcast_tail_gaps_total",
      "tailcast_http_requests_total",
      "tailcast_bus_retention_seconds",
    ]) {
      expect(used, needed).toContain(needed);
    }
  });

  const promtool = spawnSync("promtool", ["--version"]).status === 0;
  it.runIf(promtool)("passes promtool check rules, and its unit tests (alerts.test.yml)", () => {
    execFileSync("promtool", ["check", "rules", ALERTS], { stdio: "pipe" });
    execFileSync("promtool", ["test", "rules", ALERT_TESTS], { stdio: "pipe" });
  });
  if (!promtool) {
    const why = "promtool is not installed (`apt-get install prometheus` provides it)";
    console.warn(`[dashboards] skipping promtool check rules: ${why}`);
    it.skip(`promtool check rules (${why})`, () => {});
  }
});
