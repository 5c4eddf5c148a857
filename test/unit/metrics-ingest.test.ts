/**
 * The ingest function's metrics (functions/metrics.ts, functions/middleware/metrics.ts) through the
 * app with `app.request()`: route patterns as labels, publish latency, 503s by cause, idempotent
 * replays. No server, no database; the writer and the idempotency store are small fakes.
 */
import { MongoNetworkError } from "mongodb";
import { describe, expect, it } from "vitest";
import { createIngestApp, type IngestAppDeps } from "../../functions/app.ts";
import { createIngestMetrics, type IngestMetrics, unavailableCause } from "../../functions/metrics.ts";
import type { Appended, BusWriter } from "../../shared/bus/append.ts";
import type { Claim, IdempotencyStore } from "../../shared/bus/idempotency.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { createLogger } from "../../shared/log.ts";
import { defaultMessageLimits, type OutgoingMessage } from "../../shared/message.ts";
import { createMetricsRegistry } from "../../shared/metrics/registry.ts";
import { createRateLimiter } from "../../shared/rate-limit.ts";
import { parseExposition, type Sample, sampleSum } from "../helpers/metrics-text.ts";

/** A writer that acknowledges every message, or fails with `failure`. */
function fakeWriter(failure?: () => unknown): BusWriter {
  let last = 0;
  const fake = {
    append: async (messages: OutgoingMessage[]): Promise<Appended[]> => {
      if (failure) throw failure();
      return messages.map((m) => ({
        id: `id-${++last}`,
        channel: m.channel,
        offset: last,
        epoch: "e1",
        ts: new Date(),
      }));
    },
  };
  return fake as unknown as BusWriter;
}

/** A store whose every key was already published: each claim is a replay of receipt `offset: 7`. */
const replayingStore = {
  claim: async (): Promise<Claim> => ({
    kind: "done",
    receipt: { id: "old", channel: "c", offset: 7, epoch: "e1" },
  }),
} as unknown as IdempotencyStore;

function app(overrides: Partial<IngestAppDeps> = {}) {
  const metrics = createIngestMetrics(createMetricsRegistry());
  const deps: IngestAppDeps = {
    bus: async () => {
      throw new Error("no db in unit tests");
    },
    writer: async () => fakeWriter(),
    idempotency: async () => replayingStore,
    ready: async () => {
      throw new Error("down");
    },
    limits: defaultMessageLimits,
    maxBodyBytes: 4096,
    corsOrigins: [],
    auth: {
      publishers: "off",
      subscribers: undefined,
      limiter: createRateLimiter(),
      defaultRate: { perSecond: 1000, burst: 1000 },
      historyRate: { perSecond: 10, burst: 20 },
    },
    log: createLogger("test", { write: () => {} }),
    metrics,
    metricsRoute: { token: undefined },
    ...overrides,
  };
  return { app: createIngestApp(deps), metrics };
}

const publish = (a: ReturnType<typeof app>["app"], channel: string, headers: Record<string, string> = {}) =>
  a.request(`/v1/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ data: 1 }),
  });

async function scrape(m: IngestMetrics): Promise<{ text: string; samples: Sample[] }> {
  const text = await m.registry.metrics();
  return { text, samples: parseExposition(text) };
}

const ROUTE = "/v1/channels/:channel/messages";

describe("ingest metrics", () => {
  it("labels requests with the route pattern, never the channel, and times publishes to their 201", async () => {
    const { app: a, metrics } = app();
    for (const channel of ["secret-room-1", "secret-room-2", "secret-room-3"]) {
      expect((await publish(a, channel)).status).toBe(201);
    }
    const batch = await a.request("/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        messages: [
          { channel: "secret-room-4", data: 1 },
          { channel: "secret-room-5", data: 2 },
        ],
      }),
    });
    expect(batch.status).toBe(201);
    expect((await publish(a, "bad channel!")).status).toBe(400);
    const { text, samples } = await scrape(metrics);
    expect(
      sampleSum(samples, "tailcast_http_requests_total", { route: ROUTE, method: "POST", status: "201" }),
    ).toBe(3);
    expect(sampleSum(samples, "tailcast_http_requests_total", { route: ROUTE, status: "400" })).toBe(1);
    expect(sampleSum(samples, "tailcast_http_requests_total", { route: "/v1/messages", status: "201" })).toBe(
      1,
    );
    expect(sampleSum(samples, "tailcast_publish_duration_seconds_count")).toBe(4);
    expect(sampleSum(samples, "tailcast_publish_duration_seconds_bucket", { le: "+Inf" })).toBe(4);
    expect(text).not.toContain("secret-room");
    expect(text).not.toContain("bad channel");
  });

  it("labels a request that matched no route `unmatched`, whatever its path, and an odd method `other`", async () => {
    const { app: a, metrics } = app();
    expect((await a.request("/v1/nothing/here")).status).toBe(404);
    expect((await a.request("/some/random/path-42")).status).toBe(404);
    expect((await a.request("/healthz", { method: "PROPFIND" })).status).toBe(404);
    expect((await a.request("/healthz")).status).toBe(200);
    const { text, samples } = await scrape(metrics);
    expect(sampleSum(samples, "tailcast_http_requests_total", { route: "unmatched", status: "404" })).toBe(3);
    expect(sampleSum(samples, "tailcast_http_requests_total", { route: "unmatched", method: "other" })).toBe(
      1,
    );
    expect(
      sampleSum(samples, "tailcast_http_requests_total", { route: "/healthz", method: "GET", status: "200" }),
    ).toBe(1);
    expect(text).not.toContain("random");
    expect(text).not.toContain("nothing");
  });

  it("counts 503s by cause: the writer's reason, a database failure, a failed readiness probe", async () => {
    const queueFull = new TailcastError(ErrorCode.busUnavailable, "full", {
      retryAfter: 1,
      reason: "writer_queue_full",
    });
    const full = app({ writer: async () => fakeWriter(() => queueFull) });
    expect((await publish(full.app, "a")).status).toBe(503);
    expect((await publish(full.app, "a")).status).toBe(503);
    expect((await full.app.request("/readyz")).status).toBe(503);
    const down = app({ writer: async () => fakeWriter(() => new MongoNetworkError("connection reset")) });
    expect((await publish(down.app, "a")).status).toBe(503);

    const f = (await scrape(full.metrics)).samples;
    expect(sampleSum(f, "tailcast_unavailable_responses_total", { cause: "writer_queue_full" })).toBe(2);
    expect(sampleSum(f, "tailcast_unavailable_responses_total", { cause: "not_ready" })).toBe(1);
    expect(sampleSum(f, "tailcast_unavailable_responses_total", { cause: "database" })).toBe(0);
    expect(sampleSum(f, "tailcast_publish_duration_seconds_count")).toBe(0);
    const d = (await scrape(down.metrics)).samples;
    expect(sampleSum(d, "tailcast_unavailable_responses_total", { cause: "database" })).toBe(1);
    expect(sampleSum(d, "tailcast_http_requests_total", { route: ROUTE, status: "503" })).toBe(1);
  });

  it("maps any error to a bounded cause", () => {
    expect(unavailableCause(new MongoNetworkError("x"))).toBe("database");
    expect(
      unavailableCause(new TailcastError(ErrorCode.busUnavailable, "x", { reason: "append_timeout" })),
    ).toBe("append_timeout");
    expect(unavailableCause(new TailcastError(ErrorCode.busUnavailable, "x", { reason: "made-up" }))).toBe(
      "other",
    );
    expect(unavailableCause(new TailcastError(ErrorCode.busUnavailable, "x"))).toBe("bus_unavailable");
    expect(unavailableCause(new Error("x"))).toBe("unknown");
    expect(unavailableCause(undefined)).toBe("unknown");
  });

  it("counts idempotent replays", async () => {
    const { app: a, metrics } = app();
    const res = await publish(a, "c", { "idempotency-key": "k1" });
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBe("true");
    const { samples } = await scrape(metrics);
    expect(sampleSum(samples, "tailcast_idempotent_replays_total")).toBe(1);
  });

  it("serves /metrics on the app only when asked to", async () => {
    const on = app();
    const res = await on.app.request("/metrics");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("# TYPE tailcast_http_requests_total counter");
    const off = app({ metricsRoute: null });
    expect((await off.app.request("/metrics")).status).toBe(404);
  });
});
