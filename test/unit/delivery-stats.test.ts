import { describe, expect, it } from "vitest";
import { DeliveryStats } from "../../tailer/delivery-stats.ts";

const T0 = 1_000_000;

describe("DeliveryStats", () => {
  it("is empty before anything is delivered", () => {
    expect(new DeliveryStats(T0).summary(T0 + 5000)).toEqual({
      publishRate: 0,
      delivery: { count: 0, p50Ms: null, p99Ms: null, maxMs: null },
    });
  });

  it("gives nearest-rank quantiles of bus ts → emit over the window", () => {
    const stats = new DeliveryStats(T0);
    // 100 messages with latencies 1..100 ms
    for (let i = 1; i <= 100; i++) stats.record(T0 + i * 10, T0 + i * 10 + i);
    expect(stats.summary(T0 + 2000).delivery).toEqual({ count: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
  });

  it("forgets deliveries older than the window", () => {
    const stats = new DeliveryStats(T0);
    stats.record(T0, T0 + 500); // slow, long ago
    stats.record(T0 + 70_000, T0 + 70_002);
    expect(stats.summary(T0 + 70_010, 60_000).delivery).toEqual({ count: 1, p50Ms: 2, p99Ms: 2, maxMs: 2 });
  });

  it("counts the publish rate by bus ts over the window, or over the node's life when it is younger", () => {
    const old = new DeliveryStats(T0 - 120_000);
    for (let i = 0; i < 600; i++) old.record(T0 - 60_000 + i * 100, T0 - 60_000 + i * 100 + 1);
    expect(old.summary(T0, 60_000).publishRate).toBeCloseTo(10, 5); // 600 messages in 60 s

    const young = new DeliveryStats(T0 - 10_000);
    for (let i = 0; i < 50; i++) young.record(T0 - 10_000 + i * 200, T0 - 10_000 + i * 200 + 1);
    expect(young.summary(T0, 60_000).publishRate).toBeCloseTo(5, 5); // 50 messages in its 10 s
  });

  it("does not count a backlog delivered late as current publishing", () => {
    const stats = new DeliveryStats(T0 - 300_000);
    for (let i = 0; i < 100; i++) stats.record(T0 - 200_000 + i, T0 - 1000); // published 200 s ago
    const s = stats.summary(T0, 60_000);
    expect(s.publishRate).toBe(0);
    expect(s.delivery.count).toBe(100);
    expect(s.delivery.p50Ms).toBeGreaterThan(190_000);
  });

  it("keeps fixed memory: latencies over the messages it still holds, the rate over every message", () => {
    const stats = new DeliveryStats(T0 - 120_000, 100);
    // 1,000 msg/s for 10 s; the ring keeps the last 100 latencies (the last 0.1 s)
    for (let i = 0; i < 10_000; i++) stats.record(T0 - 10_000 + i, T0 - 10_000 + i + 3);
    const s = stats.summary(T0, 60_000);
    expect(s.delivery.count).toBe(100);
    expect(s.delivery.p99Ms).toBe(3);
    // Counted per second by bus ts: all 10,000 messages of the last minute.
    expect(s.publishRate).toBeCloseTo(10_000 / 60, 5);
  });
});
