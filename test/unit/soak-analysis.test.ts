import { describe, expect, it } from "vitest";
import {
  type ClientTotals,
  deliveryVerdict,
  flatness,
  rateVerdict,
  slope,
} from "../../bench/soak/analysis.ts";

const line = (a: number, b: number, xs: number[]) => xs.map((x) => ({ x, y: a * x + b }));

describe("slope", () => {
  it("is the least-squares slope", () => {
    expect(slope(line(2, 5, [0, 1, 2, 3]))).toBeCloseTo(2);
    // Noise around a flat line: the residuals cancel.
    expect(
      slope([
        { x: 0, y: 10 },
        { x: 1, y: 12 },
        { x: 2, y: 8 },
        { x: 3, y: 10 },
      ]),
    ).toBeCloseTo(-0.4);
  });

  it("is null without two distinct x", () => {
    expect(slope([])).toBeNull();
    expect(slope([{ x: 1, y: 2 }])).toBeNull();
    expect(
      slope([
        { x: 1, y: 2 },
        { x: 1, y: 3 },
      ]),
    ).toBeNull();
  });
});

describe("flatness", () => {
  const xs = [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4];

  it("ignores the warm-up and calls a series flat when its drift stays within the allowance", () => {
    // Steep during warm-up (first minute), then 100 MB growing 1 MB/min: 3 MB over 3 minutes ≤ 10% of 101.5.
    const points = xs.map((x) => ({ x, y: x < 1 ? 50 + 50 * x : 99 + x }));
    const f = flatness(points, 1, 0.1, 0);
    expect(f.slopePerMinute).toBeCloseTo(1);
    expect(f.drift).toBeCloseTo(3);
    expect(f.flat).toBe(true);
  });

  it("is not flat when the drift over the measured span exceeds it", () => {
    const f = flatness(line(10, 100, xs), 1, 0.1, 0);
    expect(f.drift).toBeCloseTo(30);
    expect(f.allowed).toBeCloseTo(12.5);
    expect(f.flat).toBe(false);
  });

  it("counts only growth: a falling series is flat", () => {
    expect(flatness(line(-10, 100, xs), 1, 0.1, 0).flat).toBe(true);
  });

  it("uses the absolute allowance for a series near zero", () => {
    expect(flatness(line(0.5, 1, xs), 1, 0.1, 5).flat).toBe(true);
  });

  it("has no verdict without two points after warm-up", () => {
    expect(flatness(line(1, 1, [0, 0.5, 1]), 1, 0.1, 0)).toMatchObject({ slopePerMinute: null, flat: null });
  });
});

describe("deliveryVerdict", () => {
  const client = (name: string, over: Partial<ClientTotals> = {}): ClientTotals => ({
    name,
    kind: "reader",
    expected: 100,
    delivered: 100,
    duplicates: 0,
    disorders: 0,
    reconnects: 0,
    slowConsumerCuts: 0,
    gaps: 0,
    ...over,
  });

  it("is clean when every client got every message once, in order", () => {
    expect(deliveryVerdict([client("a"), client("b", { kind: "slow", slowConsumerCuts: 3 })])).toMatchObject({
      clients: 2,
      lost: 0,
      clean: true,
      faulty: [],
    });
  });

  it("sums loss, duplicates and disorders and lists the faulty clients worst first", () => {
    const v = deliveryVerdict([
      client("a", { delivered: 99 }),
      client("b"),
      client("c", { duplicates: 2, disorders: 1 }),
    ]);
    expect(v).toMatchObject({ lost: 1, duplicates: 2, disorders: 1, clean: false });
    expect(v.faulty.map((c) => c.name)).toEqual(["c", "a"]);
  });
});

describe("rateVerdict", () => {
  const at = (rates: number[]) => rates.map((achievedRate, i) => ({ endMinute: i + 1, achievedRate }));

  it("holds when every interval after warm-up took 95 % of the rate or more", () => {
    // The first minute is warm-up: its shortfall is not judged.
    expect(rateVerdict(at([300, 480, 500, 476]), 500, 1)).toEqual({
      target: 500,
      min: 476,
      max: 500,
      held: true,
    });
  });

  it("does not hold when one interval after warm-up fell short", () => {
    expect(rateVerdict(at([500, 500, 343, 500]), 500, 1)).toMatchObject({ min: 343, held: false });
  });

  it("does not hold without an interval after warm-up", () => {
    expect(rateVerdict(at([500]), 500, 1).held).toBe(false);
  });
});
