/**
 * Metrics through the real stack: an ingest process (/metrics on its main port, behind a token) and a
 * tailer process (/metrics on TAILCAST_METRICS_PORT, behind the same token), a Socket.IO and a /ws
 * subscriber; publish N messages, then scrape both halves and check the counters moved by exactly what
 * happened — and that no label carries a channel name.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket } from "ws";
import { freePort } from "../../infra/devdb/launcher.ts";
import type { Component } from "../../infra/local/component.ts";
import type { Envelope } from "../../shared/message.ts";
import { busBounds, pollUntil } from "../helpers/guarantees.ts";
import { parseExposition, type Sample, sampleSum } from "../helpers/metrics-text.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { publish, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const TOKEN = `metrics-${randomBytes(8).toString("hex")}`;
const CHANNEL = `metrics-room-${randomBytes(4).toString("hex")}`;
const N = 25;
const PUBLISH_ROUTE = "/v1/channels/:channel/messages";

let ingest: Component;
let tailer: Component;
let metricsPort: number;
let sio: Subscriber;
let ws: WebSocket;
const wsReceived: Envelope[] = [];
let wsArrived: () => void = () => {};

/** Resolves once the /ws subscriber has received `n` messages. */
function wsWaitFor(n: number): Promise<void> {
  return new Promise((resolve) => {
    wsArrived = () => {
      if (wsReceived.length >= n) resolve();
    };
    wsArrived();
  });
}

async function scrape(url: string, token: string | null = TOKEN): Promise<{ status: number; text: string }> {
  const res = await fetch(
    `${url}/metrics`,
    token === null ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  return { status: res.status, text: await res.text() };
}

async function samples(url: string): Promise<Sample[]> {
  const { status, text } = await scrape(url);
  expect(status).toBe(200);
  return parseExposition(text);
}

const tailerMetricsUrl = () => `http://127.0.0.1:${metricsPort}`;
const value = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  sampleSum(s, name, labels) ?? 0;

/** A /ws subscriber: resolves once the node has answered its subscribe. */
async function wsSubscriber(url: string, channel: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/ws`);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const subscribed = new Promise<void>((resolve, reject) => {
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { type: string } & Envelope;
      if (frame.type === "subscribed") resolve();
      else if (frame.type === "message") {
        wsReceived.push(frame);
        wsArrived();
      } else if (frame.type === "error") reject(new Error(String(data)));
    });
  });
  socket.send(JSON.stringify({ type: "subscribe", id: 1, channel }));
  await subscribed;
  return socket;
}

beforeAll(async () => {
  metricsPort = await freePort();
  [ingest, tailer] = await Promise.all([
    startFunctions({ db, env: { TAILCAST_METRICS_TOKEN: TOKEN } }),
    startTailer({
      db,
      nodeId: "metrics-1",
      env: { TAILCAST_METRICS_TOKEN: TOKEN, TAILCAST_METRICS_PORT: String(metricsPort) },
    }),
  ]);
  sio = await connectSubscriber(tailer.url);
  expect(await sio.subscribe(CHANNEL)).toMatchObject({ ok: true });
  ws = await wsSubscriber(tailer.url, CHANNEL);
});

afterAll(async () => {
  sio?.close();
  ws?.close();
  await stopAll([ingest, tailer]);
});

describe("metrics through the real stack", () => {
  it("counts N publishes on the ingest side and N fan-outs, 2N deliveries and N latencies on the tailer", async () => {
    const [ingestBefore, tailerBefore] = await Promise.all([
      samples(ingest.url),
      samples(tailerMetricsUrl()),
    ]);
    const receipts: Array<{ offset: number }> = [];
    for (let i = 0; i < N; i++) {
      const res = await publish(ingest, CHANNEL, { i });
      expect(res.status).toBe(201);
      receipts.push(res.body as { offset: number });
    }
    await sio.waitFor(N, { channel: CHANNEL });
    await wsWaitFor(N);
    expect(wsReceived).toHaveLength(N);
    const [ingestAfter, tailerAfter] = await Promise.all([samples(ingest.url), samples(tailerMetricsUrl())]);
    const delta = (after: Sample[], before: Sample[], name: string, labels: Record<string, string> = {}) =>
      value(after, name, labels) - value(before, name, labels);

    // Ingest: exactly what was published.
    expect(delta(ingestAfter, ingestBefore, "tailcast_messages_appended_total")).toBe(N);
    const created = { route: PUBLISH_ROUTE, method: "POST", status: "201" };
    expect(delta(ingestAfter, ingestBefore, "tailcast_http_requests_total", created)).toBe(N);
    expect(delta(ingestAfter, ingestBefore, "tailcast_publish_duration_seconds_count")).toBe(N);
    expect(delta(ingestAfter, ingestBefore, "tailcast_publish_duration_seconds_sum")).toBeGreaterThan(0);
    // Every message went through some insert group; one at a time here, so N groups of one.
    expect(delta(ingestAfter, ingestBefore, "tailcast_append_group_messages_sum")).toBe(N);
    expect(delta(ingestAfter, ingestBefore, "tailcast_append_group_messages_count")).toBe(N);
    expect(value(ingestAfter, "tailcast_unavailable_responses_total")).toBe(0);

    // Tailer: one fan-out per message, one delivery per message per subscriber (two), one latency each.
    expect(delta(tailerAfter, tailerBefore, "tailcast_messages_fanned_out_total")).toBe(N);
    expect(delta(tailerAfter, tailerBefore, "tailcast_deliveries_total")).toBe(2 * N);
    expect(delta(tailerAfter, tailerBefore, "tailcast_delivery_latency_seconds_count")).toBe(N);
    expect(value(tailerAfter, "tailcast_connections", { transport: "socketio" })).toBe(1);
    expect(value(tailerAfter, "tailcast_connections", { transport: "ws" })).toBe(1);
    expect(value(tailerAfter, "tailcast_subscriptions")).toBe(2);
    expect(value(tailerAfter, "tailcast_channels_with_subscribers")).toBe(1);
    expect(value(tailerAfter, "tailcast_tailer_ready")).toBe(1);
    expect(value(tailerAfter, "tailcast_tailer_draining")).toBe(0);
    expect(value(tailerAfter, "tailcast_tail_gaps_total")).toBe(0);
    expect(value(tailerAfter, "tailcast_bus_newest_offset")).toBe(receipts.at(-1)?.offset);
    // A fresh bus has evicted nothing: everything since it was made is retained.
    expect(value(tailerAfter, "tailcast_bus_retention_seconds")).toBe(Number.POSITIVE_INFINITY);
    // Node's own process metrics, on both.
    for (const s of [ingestAfter, tailerAfter]) {
      expect(sampleSum(s, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
      expect(sampleSum(s, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    }
  });

  it("counts a resume from the node's window as recovered from the window", async () => {
    const before = await samples(tailerMetricsUrl());
    const first = sio.of(CHANNEL)[0] as Envelope;
    const again = await connectSubscriber(tailer.url);
    try {
      const ack = await again.subscribe(CHANNEL, { offset: first.offset, epoch: first.epoch });
      expect(ack).toMatchObject({ ok: true, recovered: true });
      expect(again.of(CHANNEL)).toHaveLength(N - 1);
    } finally {
      again.close();
    }
    const after = await samples(tailerMetricsUrl());
    const window = { source: "window", result: "recovered" };
    expect(
      value(after, "tailcast_recoveries_total", window) - value(before, "tailcast_recoveries_total", window),
    ).toBe(1);
    expect(value(after, "tailcast_recoveries_total") - value(before, "tailcast_recoveries_total")).toBe(1);
  });

  it("exports a finite retention once the bus has evicted, from the real bus's ends", async () => {
    // A bus of its own that holds 10 documents: 30 messages evict the sentinel and the oldest ones.
    // Its ingest process serves /metrics on a port of its own, open (no token).
    const small = { db: `${db}_small`, env: { TAILCAST_BUS_MAX_DOCS: "10" } };
    const ingestMetricsPort = await freePort();
    const [smallIngest, smallTailer] = await Promise.all([
      startFunctions({ ...small, env: { ...small.env, TAILCAST_METRICS_PORT: String(ingestMetricsPort) } }),
      startTailer(small),
    ]);
    try {
      const receipts: Array<{ offset: number }> = [];
      for (let i = 0; i < 30; i++)
        receipts.push((await publish(smallIngest, "r", { i })).body as { offset: number });
      // The database evicts in the background (FerretDB: docs/ferretdb.md): wait until the sentinel
      // (offset 0) is gone. The gauge is then the bus's real oldest document, read around the scrape
      // (eviction may go on meanwhile; the oldest offset only grows).
      const uri = inject("mongodbUri");
      const oldest = async () => (await busBounds(uri, small.db)).oldest.offset;
      const before = await pollUntil("eviction of the sentinel", async () => {
        const offset = await oldest();
        return offset > 0 ? offset : undefined;
      });
      const s = parseExposition((await scrape(smallTailer.url, null)).text);
      const after = await oldest();
      expect(value(s, "tailcast_bus_newest_offset")).toBe(receipts.at(-1)?.offset);
      expect(value(s, "tailcast_bus_oldest_offset")).toBeGreaterThanOrEqual(before);
      expect(value(s, "tailcast_bus_oldest_offset")).toBeLessThanOrEqual(after);
      const ingested = parseExposition((await scrape(`http://127.0.0.1:${ingestMetricsPort}`, null)).text);
      expect(value(ingested, "tailcast_messages_appended_total")).toBe(30);
      expect((await scrape(smallIngest.url, null)).status).toBe(404);
      const retention = value(s, "tailcast_bus_retention_seconds");
      expect(Number.isFinite(retention)).toBe(true);
      expect(retention).toBeGreaterThanOrEqual(0);
    } finally {
      await stopAll([smallIngest, smallTailer]);
    }
  });

  it("shows a recovery from the bus, measured lag, and a drain (draining 1, ready 0) on a real tailer", async () => {
    // A node whose window holds 5 messages: a resume from further back is served from the bus. Its
    // drain window outlasts the test, which then stops it with SIGINT (at once).
    const admin = `admin-${randomBytes(12).toString("hex")}`;
    const node = await startTailer({
      db,
      nodeId: "metrics-2",
      env: {
        TAILCAST_RECOVERY_WINDOW: "5",
        TAILCAST_LAG_INTERVAL_MS: "100",
        TAILCAST_ADMIN_TOKEN: admin,
        TAILCAST_DRAIN_WINDOW_MS: "600000",
        TAILCAST_DRAIN_TIMEOUT_MS: "700000",
      },
    });
    const channel = `${CHANNEL}-bus`;
    const live = await connectSubscriber(node.url);
    try {
      expect(await live.subscribe(channel)).toMatchObject({ ok: true });
      const receipts: Array<{ offset: number; epoch: string }> = [];
      for (let i = 0; i < 20; i++) receipts.push((await publish(ingest, channel, { i })).body as never);
      // The node's tail has passed all 20: the window holds the last 5, the first 15 only the bus.
      await live.waitFor(20, { channel });
      const before = await samples(node.url);
      const first = receipts[0] as { offset: number; epoch: string };
      const again = await connectSubscriber(node.url);
      try {
        expect(await again.subscribe(channel, first)).toMatchObject({ ok: true, recovered: true });
        expect(again.of(channel).map((e) => e.offset)).toEqual(receipts.slice(1).map((r) => r.offset));
      } finally {
        again.close();
      }
      const after = await samples(node.url);
      const recoveries = (s: Sample[], labels: Record<string, string>) =>
        value(s, "tailcast_recoveries_total", labels);
      const fromBus = { source: "bus", result: "recovered" };
      expect(recoveries(after, fromBus) - recoveries(before, fromBus)).toBe(1);
      expect(recoveries(after, {}) - recoveries(before, {})).toBe(1);

      // Lag is NaN until first measured (every 100 ms here), then finite and never negative.
      const lag = await pollUntil("a measured lag", async () => {
        const s = await samples(node.url);
        const offsets = sampleSum(s, "tailcast_tail_lag_offsets");
        return Number.isFinite(offsets) ? s : undefined;
      });
      for (const name of ["tailcast_tail_lag_offsets", "tailcast_tail_lag_seconds"]) {
        const v = sampleSum(lag, name) as number;
        expect(Number.isFinite(v), name).toBe(true);
        expect(v, name).toBeGreaterThanOrEqual(0);
      }

      expect(value(after, "tailcast_tailer_ready")).toBe(1);
      expect(value(after, "tailcast_tailer_draining")).toBe(0);
      const drain = await fetch(`${node.url}/admin/drain`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(drain.status).toBe(202);
      const draining = await samples(node.url);
      expect(value(draining, "tailcast_tailer_draining")).toBe(1);
      expect(value(draining, "tailcast_tailer_ready")).toBe(0);
    } finally {
      live.close();
      await node.kill("SIGINT");
    }
  });

  it("never puts a channel name (or any path) in a label", async () => {
    for (const url of [ingest.url, tailerMetricsUrl()]) {
      const { text } = await scrape(url);
      expect(text).not.toContain(CHANNEL);
      const labelValues = parseExposition(text).flatMap((s) => Object.values(s.labels));
      expect(labelValues.filter((v) => v.includes("metrics-room"))).toEqual([]);
      // Routes are patterns: a raw /v1/channels/<name>/… path would name the channel.
      expect(labelValues.filter((v) => v.startsWith("/v1/channels/") && !v.includes(":channel"))).toEqual([]);
    }
  });

  it("refuses a scrape without the token or with a forged one, on both halves", async () => {
    for (const url of [ingest.url, tailerMetricsUrl()]) {
      for (const token of [null, "forged", `${TOKEN}0`]) {
        const { status, text } = await scrape(url, token);
        expect(status, `${url} ${token}`).toBe(401);
        expect(JSON.parse(text)).toMatchObject({ error: { code: "unauthorized" } });
      }
    }
  });

  it("serves the tailer's /metrics only on its metrics port, and nothing else there", async () => {
    expect((await scrape(tailer.url)).status).toBe(404);
    expect((await fetch(`${tailerMetricsUrl()}/stats`)).status).toBe(404);
    expect((await fetch(`${tailer.url}/stats`)).status).toBe(200);
  });
});
