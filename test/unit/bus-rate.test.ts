import { describe, expect, it } from "vitest";
import { PublishRate } from "../../tailer/bus-rate.ts";

const t0 = Date.parse("2026-01-01T00:00:00.000Z");

describe("PublishRate", () => {
  it("counts messages by bus ts over the last minute", () => {
    const r = new PublishRate(t0 - 600_000);
    for (let s = 0; s < 60; s++) for (let i = 0; i < 5; i++) r.record(t0 + s * 1000 + i * 100);
    expect(r.rate(t0 + 60_000)).toBe(5);
  });

  it("is over the time since counting began when that is shorter than the window", () => {
    const r = new PublishRate(t0);
    for (let i = 0; i < 20; i++) r.record(t0 + i * 100);
    expect(r.rate(t0 + 2000)).toBe(10);
  });

  it("forgets what is older than the window, and a backlog read late is not current publishing", () => {
    const r = new PublishRate(t0 - 600_000);
    for (let i = 0; i < 30; i++) r.record(t0 + i);
    expect(r.rate(t0 + 61_000)).toBe(0);
    const late = new PublishRate(t0 - 600_000);
    late.record(t0 + 60_000); // this second's bucket is taken by a current message
    late.record(t0); // 60 s older, same bucket: dropped rather than counted as now
    expect(late.rate(t0 + 60_500)).toBeCloseTo(1 / 60);
  });

  it("is 0 before anything was published", () => {
    expect(new PublishRate(t0).rate(t0 + 5000)).toBe(0);
    expect(new PublishRate(t0).rate(t0)).toBe(0);
  });
});
