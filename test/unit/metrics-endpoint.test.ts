/**
 * GET /metrics (shared/metrics/): the exposition with Node's process metrics, the optional bearer token,
 * the separate port, and the configuration that chooses them.
 */
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import { loadIngestConfig, loadMetricsConfig, loadTailerConfig } from "../../shared/config.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { type MetricsServer, startMetricsServer } from "../../shared/metrics/expose.ts";
import { seriesNames } from "../../shared/metrics/names.ts";
import { createMetricsRegistry } from "../../shared/metrics/registry.ts";
import { metricsRoutes } from "../../shared/metrics/route.ts";

const TOKEN = "s3cret-metrics-token";

describe("metricsRoutes", () => {
  it("serves Prometheus text with Node's process metrics, open when no token is configured", async () => {
    const app = metricsRoutes(createMetricsRegistry(), undefined);
    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const names = seriesNames(await res.text());
    for (const name of [
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_gc_duration_seconds_count",
      "process_resident_memory_bytes",
    ]) {
      expect(names, name).toContain(name);
    }
  });

  it("with a token, refuses a request without one, with a forged one or a malformed header, with 401", async () => {
    const app = metricsRoutes(createMetricsRegistry(), TOKEN);
    for (const authorization of [undefined, "Bearer forged", `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
      const res = await app.request("/metrics", {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await res.json()).toEqual({
        error: { code: ErrorCode.unauthorized, message: expect.any(String) },
      });
    }
  });

  it("with a token, answers the right one (scheme in any case)", async () => {
    const app = metricsRoutes(createMetricsRegistry(), TOKEN);
    for (const authorization of [`Bearer ${TOKEN}`, `bearer  ${TOKEN}`]) {
      const res = await app.request("/metrics", { headers: { authorization } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
    }
  });

  it("keeps registries apart: two in one process register the same names without a clash", async () => {
    const [a, b] = [createMetricsRegistry(), createMetricsRegistry()];
    expect(await a.metrics()).toContain("process_cpu_user_seconds_total");
    expect(await b.metrics()).toContain("process_cpu_user_seconds_total");
  });
});

describe("startMetricsServer", () => {
  let server: MetricsServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it("is not started when no metrics port is configured", async () => {
    expect(
      await startMetricsServer(createMetricsRegistry(), { port: undefined, token: undefined }, "127.0.0.1"),
    ).toBe(null);
  });

  it("serves /metrics alone on its own port, with the token", async () => {
    const port = await freePort();
    server = await startMetricsServer(createMetricsRegistry(), { port, token: TOKEN }, "127.0.0.1");
    expect(server?.port).toBe(port);
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("nodejs_heap_size_total_bytes");
    expect((await fetch(`${url}/readyz`)).status).toBe(404);
  });
});

describe("loadMetricsConfig", () => {
  const refused = (env: Record<string, string>, mainPort: number, variable: string) => {
    let err: unknown;
    try {
      loadMetricsConfig(env, mainPort);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TailcastError);
    expect((err as TailcastError).code).toBe(ErrorCode.invalidConfig);
    expect((err as TailcastError).message).toContain(variable);
  };

  it("defaults to /metrics on the main port, open", () => {
    expect(loadMetricsConfig({}, 8080)).toEqual({ port: undefined, token: undefined });
    expect(loadMetricsConfig({ TAILCAST_METRICS_PORT: " ", TAILCAST_METRICS_TOKEN: "" }, 8080)).toEqual({
      port: undefined,
      token: undefined,
    });
  });

  it("reads a port and a token", () => {
    expect(loadMetricsConfig({ TAILCAST_METRICS_PORT: "9464", TAILCAST_METRICS_TOKEN: TOKEN }, 8080)).toEqual(
      {
        port: 9464,
        token: TOKEN,
      },
    );
  });

  it.each([["0"], ["65536"], ["abc"], ["8080"]])(
    "refuses TAILCAST_METRICS_PORT=%s (8080 is PORT)",
    (value) => {
      refused({ TAILCAST_METRICS_PORT: value }, 8080, "TAILCAST_METRICS_PORT");
    },
  );

  it("refuses a token a Bearer header cannot carry", () => {
    refused({ TAILCAST_METRICS_TOKEN: "two words" }, 8080, "TAILCAST_METRICS_TOKEN");
  });

  it("is part of both components' configuration, checked against their own PORT", () => {
    expect(loadIngestConfig({ TAILCAST_METRICS_PORT: "9464" }).metrics.port).toBe(9464);
    expect(loadTailerConfig({ TAILCAST_METRICS_TOKEN: TOKEN }).metrics.token).toBe(TOKEN);
    refused({ PORT: "9000", TAILCAST_METRICS_PORT: "9000" }, 9000, "TAILCAST_METRICS_PORT");
    expect(() => loadTailerConfig({ PORT: "9000", TAILCAST_METRICS_PORT: "9000" })).toThrow(
      /TAILCAST_METRICS_PORT/,
    );
  });
});
