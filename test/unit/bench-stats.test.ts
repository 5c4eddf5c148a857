/** The benchmark's pure parts: percentiles, bounded samples, order/loss/duplicate checks, targets. */
import { describe, expect, it } from "vitest";
import { Recorder } from "../../bench/clients/recorder.ts";
import { parseBenchArgs } from "../../bench/options.ts";
import { phaseOf, slowOverBaseline } from "../../bench/slow-consumer-phases.ts";
import {
  ChannelCheck,
  describeFaults,
  emptyDelivery,
  isClean,
  lost,
  median,
  p99Ratio,
  peakAndMean,
  percentile,
  Reservoir,
  summarize,
} from "../../bench/stats.ts";
import { sections } from "../../bench/table.ts";
import { evaluateTargets } from "../../bench/targets.ts";
import { sampleResults, slowBlocks } from "../helpers/bench-results.ts";

describe("percentiles", () => {
  it("interpolates between closest ranks, whatever the input order", () => {
    const values = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    expect(percentile(values, 0)).toBe(1);
    expect(percentile(values, 100)).toBe(10);
    expect(median(values)).toBe(5.5);
    expect(percentile(values, 90)).toBeCloseTo(9.1);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
    expect(values).toEqual([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]); // input untouched
  });

  it("summarizes with the exact max when the sample missed it", () => {
    const s = summarize([1, 2, 3, 4], 50);
    expect(s).toMatchObject({ count: 4, p50: 2.5, max: 50, mean: 2.5 });
    expect(summarize([1, 2, 3, 4]).max).toBe(4);
    expect(summarize([]).count).toBe(0);
  });
});

describe("Reservoir", () => {
  it("keeps at most its capacity, counts everything, keeps the exact max", () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const r = new Reservoir(100, random);
    for (let i = 0; i < 10_000; i++) r.add(i);
    expect(r.values()).toHaveLength(100);
    expect(r.seen).toBe(10_000);
    expect(r.max).toBe(9999);
    // A uniform sample of 0..9999: its median is near the middle, not stuck at the first values.
    expect(median(r.values())).toBeGreaterThan(3000);
    expect(median(r.values())).toBeLessThan(7000);
  });
});

describe("ChannelCheck", () => {
  it("counts duplicates and arrivals out of order, and the acknowledged messages never seen", () => {
    const c = new ChannelCheck();
    expect(c.observe(0)).toBe("ok");
    expect(c.observe(2)).toBe("ok");
    expect(c.observe(1)).toBe("disorder");
    expect(c.observe(2)).toBe("duplicate");
    expect(c.observe(4)).toBe("ok");
    expect(c).toMatchObject({ duplicates: 1, disorders: 1, distinct: 4 });
    expect(c.lostOf(6)).toBe(2); // 3 and 5
    expect(c.lostOf(6, new Set([3]))).toBe(1); // 3 was never stored: not lost
  });

  it("orders by the bus offset when there is one, so concurrent publishes are not called disorder", () => {
    const c = new ChannelCheck();
    expect(c.observe(1, 100)).toBe("ok"); // seq 1 landed in the bus before seq 0
    expect(c.observe(0, 101)).toBe("ok");
    expect(c.observe(2, 101)).toBe("disorder"); // an offset that does not increase
  });
});

describe("Recorder", () => {
  const msg = (s: number, c: number, q: number, t = 0) => ({ s, c, q, t, p: "" });

  it("checks only the client's channels, counts the rest as unwanted and foreign documents as stale", () => {
    const r = new Recorder(1, [0], 1000);
    r.receive(msg(7, 0, 0, 100), undefined, 105);
    r.receive(msg(7, 1, 0, 100), undefined, 106); // another channel: the classic prototype sends all
    r.receive(msg(7, 0, 1, 100), undefined, 110);
    r.receive(msg(7, 0, 1, 100), undefined, 111); // duplicate
    r.receive({ channel: "filler", n: 3 }, undefined, 112); // a replayed filler document
    const totals = { sent: [3, 1], failed: [[], []] };
    expect(r.progress(7, totals)).toEqual({ expected: 3, delivered: 2 });
    const rep = r.report(7, totals);
    expect(rep.delivery).toEqual({
      expected: 3,
      delivered: 2,
      duplicates: 1,
      disorders: 0,
      unwanted: 1,
      stale: 1,
    });
    expect(rep.latencies.sort((a, b) => a - b)).toEqual([5, 10]);
    expect(rep.maxLatency).toBe(10);
    expect(rep).toMatchObject({ node: 1, deliveries: 4, firstAt: 105, lastAt: 111 });
    expect(lost(rep.delivery)).toBe(1);
    expect(isClean(rep.delivery)).toBe(false);
    expect(describeFaults(rep.delivery)).toBe("1 lost, 1 dup, 1 stale");
  });

  it("measures latency from the origin it is given (the bus ts) instead of the send time", () => {
    const r = new Recorder(0, [0], 10);
    r.receive(msg(3, 0, 0, 100), 7, 130, 120); // sent at 100, in the bus at 120, here at 130
    r.receive(msg(3, 0, 1, 100), 8, 140); // no origin: from the send time
    expect(r.report(3, { sent: [2], failed: [[]] }).latencies.sort((a, b) => a - b)).toEqual([10, 40]);
  });

  it("does not count a publish the publisher saw fail as lost", () => {
    const r = new Recorder(0, [0], 10);
    r.receive(msg(1, 0, 0), undefined, 1);
    const rep = r.report(1, { sent: [2], failed: [[1]] });
    expect(rep.delivery).toMatchObject({ expected: 1, delivered: 1 });
    expect(isClean(rep.delivery)).toBe(true);
    expect(isClean(emptyDelivery())).toBe(true);
  });
});

describe("targets", () => {
  it("judges each target as a ratio within the run", () => {
    const byId = new Map(evaluateTargets(sampleResults()).map((t) => [t.id, t]));
    expect(byId.get("latency-p50")?.pass).toBe(true); // 4.5 vs 4 ms: within +1 ms
    expect(byId.get("latency-p99")?.pass).toBe(true);
    expect(byId.get("rate-one-channel")).toMatchObject({ pass: true, measured: "800/s vs 200/s (4.00×)" });
    expect(byId.get("rate-many-channels")?.pass).toBe(true); // the prototype lost at its lowest rate
    expect(byId.get("fanout-tailcast-sio-1000")?.pass).toBe(true); // 0.85 ≥ 0.8
    expect(byId.get("fanout-tailcast-ws-1000")?.pass).toBe(false); // 0.80 < 0.9
    expect(byId.get("memory-tailcast-ws")?.pass).toBe(true); // 8.8 KB ≤ 1.5 × 5.9 KB
    expect(byId.get("idle-cpu")?.pass).toBe(true);
  });

  it("says what was not measured instead of passing it", () => {
    const results = sampleResults();
    results.rigs = results.rigs.filter((r) => r.system !== "floor");
    results.fanout = [];
    const targets = evaluateTargets(results);
    expect(targets.find((t) => t.id === "latency-p50")).toMatchObject({ pass: null });
    expect(targets.find((t) => t.id === "memory-tailcast-sio")).toMatchObject({ pass: null });
  });

  it("does not pass a memory figure that a garbage collection turned negative", () => {
    const results = sampleResults();
    const sio = results.fanout.find((f) => f.server === "tailcast-sio");
    if (sio) sio.rssPerConnection = -4000;
    const memory = evaluateTargets(results).find((t) => t.id === "memory-tailcast-sio");
    expect(memory?.pass).toBeNull();
    expect(memory?.measured).toContain("RSS shrank");
  });
});

describe("slow consumer", () => {
  it("compares the tail with a slow client against the baseline's, both over all their blocks", () => {
    const slow = Array.from({ length: 101 }, (_, i) => i); // p99 99
    expect(
      p99Ratio(
        slow,
        slow.map((v) => v / 2),
      ),
    ).toBeCloseTo(2);
    expect(p99Ratio([], [1])).toBeNaN();
    expect(peakAndMean([3, 1, 2])).toEqual({ peak: 3, mean: 2 });
    expect(peakAndMean([]).peak).toBeNaN();
    const blocks = slowBlocks();
    // Baseline: both of its blocks, 8 samples of 10–40; slow client: its one block, up to 80.
    expect(slowOverBaseline(blocks)).toBeCloseTo(percentile([10, 20, 30, 80], 99) / 40, 5);
  });

  it("sums each condition's blocks: deliveries, cuts, RSS samples, each block's p99", () => {
    const blocks = slowBlocks();
    const baseline = phaseOf("baseline", blocks);
    const slow = phaseOf("slow client", blocks);
    expect(baseline).toMatchObject({
      name: "baseline",
      blocks: 2,
      blockP99: [percentile([10, 20, 30, 40], 99), percentile([10, 20, 30, 40], 99)],
      steady: { expected: 8, delivered: 8 },
      bulk: { expected: 200, delivered: 200 },
      bulkBytesPerSec: 5 * 1024 * 1024,
      rss: { peak: 115, mean: 107.5 },
      largestPendingBytes: 0,
      cuts: { ws: 0, socketIo: 0 },
    });
    expect(baseline?.latency).toMatchObject({ count: 8, max: 41 });
    expect(slow).toMatchObject({ blocks: 1, cuts: { ws: 2, socketIo: 1 }, largestPendingBytes: 1_200_000 });
    expect(describeFaults(slow?.bulk ?? emptyDelivery())).toBe("1 lost");
    expect(
      phaseOf(
        "slow client",
        blocks.filter((b) => !b.slowClient),
      ),
    ).toBeNull();
  });

  it("is a scenario of its own, shorter with --quick, and has its table", () => {
    const quick = parseBenchArgs(["--only", "slow-consumer", "--quick"]);
    const full = parseBenchArgs(["--only", "slow-consumer"]);
    expect(quick.scenarios).toEqual(["slow-consumer"]);
    expect(quick.slowConsumer.blocks % 2).toBe(1); // baseline first and last
    expect(quick.slowConsumer.blockMs * quick.slowConsumer.blocks).toBeLessThan(
      full.slowConsumer.blockMs * full.slowConsumer.blocks,
    );
    const table = sections(sampleResults()).find((s) => s.title.startsWith("Slow consumer"));
    expect(table?.title).toContain(`${(percentile([10, 20, 30, 80], 99) / 40).toFixed(2)}×`);
    expect(table?.rows.map((r) => [r[0], r[1], r.at(-1)])).toEqual([
      ["baseline", "2 × 5 s", "none"],
      ["slow client", "1 × 5 s", "bulk: 1 lost"],
    ]);
  });
});
