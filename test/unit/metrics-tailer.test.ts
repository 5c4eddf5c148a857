/**
 * The tailer's metrics (tailer/metrics.ts) over fake sources: what is read at scrape time (sessions,
 * tail counters, recovery outcomes, lag, readiness, the bus's retention) and what is counted per
 * message (fan-out, deliveries, latency). No I/O.
 */
import { describe, expect, it } from "vitest";
import { createMetricsRegistry } from "../../shared/metrics/registry.ts";
import type { LiveStats } from "../../tailer/live.ts";
import { createTailerMetrics, type TailerSources } from "../../tailer/metrics.ts";
import { newRecoveryStats } from "../../tailer/recovery.ts";
import { type BusEnds, retentionSeconds } from "../../tailer/retention.ts";
import { parseExposition, sampleSum } from "../helpers/metrics-text.ts";

function stats(): LiveStats {
  return {
    tail: {
      live: true,
      position: { offset: 90, epoch: "e1" },
      reopens: 3,
      gaps: 2,
      missed: 17,
      refilled: 4,
      lastError: null,
      cursorId: "1",
    },
    recovery: {
      ...newRecoveryStats(),
      windowSize: 12,
      windowCapacity: 100,
      windowBytes: 3456,
      windowCapacityBytes: 1e6,
    },
    lag: { offsets: 5, ms: 2500, checkedAt: new Date().toISOString() },
  };
}

function setup(overrides: Partial<TailerSources> = {}) {
  const live = stats();
  const state = { ready: true, draining: false };
  const sessions = [
    { channels: new Set(["room-a", "room-b"]) },
    { channels: new Set(["room-b"]) },
    { channels: new Set<string>() },
  ];
  const m = createTailerMetrics(createMetricsRegistry());
  m.observe({
    live: { snapshot: () => live },
    sessions,
    connections: () => ({ socketio: 2, ws: 1 }),
    ready: () => state.ready,
    draining: () => state.draining,
    busEnds: async () => ({
      oldest: { offset: 40, ts: new Date("2026-01-01T00:00:00Z") },
      newest: { offset: 95, ts: new Date("2026-01-01T00:05:00Z") },
    }),
    ...overrides,
  });
  const scrape = async () => parseExposition(await m.registry.metrics());
  return { m, live, state, scrape };
}

describe("tailer metrics", () => {
  it("reads connections, subscriptions and channels from the sessions at scrape time", async () => {
    const { scrape } = setup();
    const s = await scrape();
    expect(sampleSum(s, "tailcast_connections", { transport: "socketio" })).toBe(2);
    expect(sampleSum(s, "tailcast_connections", { transport: "ws" })).toBe(1);
    expect(sampleSum(s, "tailcast_subscriptions")).toBe(3);
    expect(sampleSum(s, "tailcast_channels_with_subscribers")).toBe(2);
  });

  it("reads the tail's counters, lag and the recovery outcomes, and follows them as they move", async () => {
    const { scrape, live } = setup();
    let s = await scrape();
    expect(sampleSum(s, "tailcast_tail_gaps_total")).toBe(2);
    expect(sampleSum(s, "tailcast_tail_missed_messages_total")).toBe(17);
    expect(sampleSum(s, "tailcast_tail_cursor_reopens_total")).toBe(3);
    expect(sampleSum(s, "tailcast_tail_refilled_messages_total")).toBe(4);
    expect(sampleSum(s, "tailcast_tail_lag_offsets")).toBe(5);
    expect(sampleSum(s, "tailcast_tail_lag_seconds")).toBe(2.5);
    expect(sampleSum(s, "tailcast_recovery_window_messages")).toBe(12);
    expect(sampleSum(s, "tailcast_recovery_window_bytes")).toBe(3456);
    // Every source × result is exported from the start, so rate() has a series to work on.
    expect(s.filter((x) => x.name === "tailcast_recoveries_total")).toHaveLength(6);
    expect(sampleSum(s, "tailcast_recoveries_total")).toBe(0);

    (live.tail as { gaps: number }).gaps = 3;
    live.recovery.outcomes.bus.unrecovered = 1;
    live.recovery.outcomes.window.recovered = 4;
    live.lag = null;
    s = await scrape();
    expect(sampleSum(s, "tailcast_tail_gaps_total")).toBe(3);
    expect(sampleSum(s, "tailcast_recoveries_total", { source: "bus", result: "unrecovered" })).toBe(1);
    expect(sampleSum(s, "tailcast_recoveries_total", { source: "window", result: "recovered" })).toBe(4);
    expect(sampleSum(s, "tailcast_tail_lag_seconds")).toBeNaN();
  });

  it("exports ready and draining as 0/1", async () => {
    const { scrape, state } = setup();
    let s = await scrape();
    expect([sampleSum(s, "tailcast_tailer_ready"), sampleSum(s, "tailcast_tailer_draining")]).toEqual([1, 0]);
    state.ready = false;
    state.draining = true;
    s = await scrape();
    expect([sampleSum(s, "tailcast_tailer_ready"), sampleSum(s, "tailcast_tailer_draining")]).toEqual([0, 1]);
  });

  it("counts every message fanned out, deliveries per connection, and the latency of delivered ones", async () => {
    const { m, scrape } = setup();
    const ts = "2026-01-01T00:00:00.000Z";
    const envelope = { id: "x", channel: "room-a", event: "message", data: 1, offset: 1, epoch: "e1", ts };
    const at = Date.parse(ts);
    m.delivered(envelope, 3, at + 20);
    m.delivered(envelope, 0, at + 5000);
    m.delivered(envelope, 1, at + 2000);
    const s = await scrape();
    expect(sampleSum(s, "tailcast_messages_fanned_out_total")).toBe(3);
    expect(sampleSum(s, "tailcast_deliveries_total")).toBe(4);
    expect(sampleSum(s, "tailcast_delivery_latency_seconds_count")).toBe(2);
    expect(sampleSum(s, "tailcast_delivery_latency_seconds_sum")).toBeCloseTo(2.02);
    expect(sampleSum(s, "tailcast_delivery_latency_seconds_bucket", { le: "0.025" })).toBe(1);
  });

  it("counts slow-consumer disconnects by transport, both exported from the start", async () => {
    const { m, scrape } = setup();
    expect(sampleSum(await scrape(), "tailcast_slow_consumer_disconnects_total", { transport: "ws" })).toBe(
      0,
    );
    m.slowConsumerDisconnected("ws");
    m.slowConsumerDisconnected("ws");
    m.slowConsumerDisconnected("socketio");
    const s = await scrape();
    expect(sampleSum(s, "tailcast_slow_consumer_disconnects_total", { transport: "ws" })).toBe(2);
    expect(sampleSum(s, "tailcast_slow_consumer_disconnects_total", { transport: "socketio" })).toBe(1);
  });

  it("reads the bus's ends once per scrape for retention and offsets; unknown is NaN", async () => {
    let reads = 0;
    const ends: BusEnds = {
      oldest: { offset: 40, ts: new Date("2026-01-01T00:00:00Z") },
      newest: { offset: 95, ts: new Date("2026-01-01T00:05:00Z") },
    };
    const { scrape } = setup({
      busEnds: async () => {
        reads++;
        return ends;
      },
    });
    let s = await scrape();
    expect(reads).toBe(1);
    expect(sampleSum(s, "tailcast_bus_retention_seconds")).toBe(300);
    expect(sampleSum(s, "tailcast_bus_oldest_offset")).toBe(40);
    expect(sampleSum(s, "tailcast_bus_newest_offset")).toBe(95);
    s = await scrape();
    expect(reads).toBe(2);

    const failing = setup({
      busEnds: async () => {
        throw new Error("unreachable");
      },
    });
    s = await failing.scrape();
    expect(sampleSum(s, "tailcast_bus_retention_seconds")).toBeNaN();
    expect(sampleSum(s, "tailcast_bus_newest_offset")).toBeNaN();
  });

  it("exports no label but transport, source, result (and Node's own)", async () => {
    const { scrape } = setup();
    const labels = new Set(
      (await scrape()).filter((s) => s.name.startsWith("tailcast_")).flatMap((s) => Object.keys(s.labels)),
    );
    expect([...labels].sort()).toEqual(["le", "result", "source", "transport"]);
  });
});

describe("retentionSeconds", () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000);
  it("is the span between the oldest and the newest retained message", () => {
    expect(
      retentionSeconds({ oldest: { offset: 10, ts: at(0) }, newest: { offset: 20, ts: at(90.5) } }),
    ).toBe(90.5);
  });
  it("is +Inf while the epoch's sentinel (offset 0) is still retained: nothing was ever evicted", () => {
    expect(retentionSeconds({ oldest: { offset: 0, ts: at(0) }, newest: { offset: 20, ts: at(5) } })).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
  it("is never negative (writers' clocks may disagree)", () => {
    expect(retentionSeconds({ oldest: { offset: 5, ts: at(10) }, newest: { offset: 6, ts: at(9) } })).toBe(0);
  });
});
