import { describe, expect, it } from "vitest";
import type { Envelope } from "../../shared/message.ts";
import { RecentWindow } from "../../tailer/window.ts";

const env = (offset: number, channel = "a", epoch = "e1"): Envelope => ({
  id: `m${offset}`,
  channel,
  event: "message",
  data: offset,
  offset,
  epoch,
  ts: new Date(0).toISOString(),
});

describe("RecentWindow", () => {
  it("covers nothing before it has a floor", () => {
    expect(new RecentWindow(10).covers({ offset: 5, epoch: "e1" })).toBe(false);
  });

  it("covers (floor, head] after a reset and returns a channel's messages after an offset, in order", () => {
    const w = new RecentWindow(10);
    w.reset({ offset: 4, epoch: "e1" });
    for (const o of [5, 6, 7, 8]) w.push(env(o, o % 2 ? "a" : "b"));
    expect(w.covers({ offset: 4, epoch: "e1" })).toBe(true);
    expect(w.covers({ offset: 3, epoch: "e1" })).toBe(false);
    expect(w.covers({ offset: 6, epoch: "other" })).toBe(false);
    expect(w.after("a", 4).map((e) => e.offset)).toEqual([5, 7]);
    expect(w.after("b", 6).map((e) => e.offset)).toEqual([8]);
    expect(w.after("a", 8)).toEqual([]);
  });

  it("moves its floor up when full, so it never claims what it dropped", () => {
    const w = new RecentWindow(3);
    w.reset({ offset: 0, epoch: "e1" });
    for (let o = 1; o <= 10; o++) w.push(env(o));
    expect(w.size).toBe(3);
    expect(w.covers({ offset: 7, epoch: "e1" })).toBe(true);
    expect(w.covers({ offset: 6, epoch: "e1" })).toBe(false);
    expect(w.after("a", 7).map((e) => e.offset)).toEqual([8, 9, 10]);
  });

  it("keeps working across many compactions", () => {
    const w = new RecentWindow(5);
    w.reset({ offset: 0, epoch: "e1" });
    for (let o = 1; o <= 1000; o++) w.push(env(o));
    expect(w.after("a", 0).map((e) => e.offset)).toEqual([996, 997, 998, 999, 1000]);
    expect(w.covers({ offset: 995, epoch: "e1" })).toBe(true);
    expect(w.covers({ offset: 994, epoch: "e1" })).toBe(false);
  });

  it("restarts on a new epoch instead of mixing incarnations", () => {
    const w = new RecentWindow(10);
    w.reset({ offset: 0, epoch: "e1" });
    w.push(env(1));
    w.push(env(1, "a", "e2"));
    expect(w.covers({ offset: 1, epoch: "e1" })).toBe(false);
    expect(w.covers({ offset: 0, epoch: "e2" })).toBe(true);
    expect(w.after("a", 0).map((e) => e.epoch)).toEqual(["e2"]);
  });

  it("a reset after a gap forgets everything before it", () => {
    const w = new RecentWindow(10);
    w.reset({ offset: 0, epoch: "e1" });
    w.push(env(1));
    w.reset({ offset: 9, epoch: "e1" });
    w.push(env(10));
    expect(w.covers({ offset: 1, epoch: "e1" })).toBe(false);
    expect(w.after("a", 0).map((e) => e.offset)).toEqual([10]);
  });
});

/** A deterministic pseudo-random sequence, so a failure is reproducible. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe("RecentWindow bounded in bytes", () => {
  it("evicts the oldest messages once it holds more bytes than its bound, and moves its floor past them", () => {
    const w = new RecentWindow(1000, 300);
    w.reset({ offset: 0, epoch: "e1" });
    for (let o = 1; o <= 5; o++) w.push(env(o, o % 2 ? "a" : "b"), 100);
    expect(w.size).toBe(3);
    expect(w.bytes).toBe(300);
    expect(w.covers({ offset: 2, epoch: "e1" })).toBe(true);
    expect(w.covers({ offset: 1, epoch: "e1" })).toBe(false);
    expect(w.after("a", 0).map((e) => e.offset)).toEqual([3, 5]);
    expect(w.after("b", 0).map((e) => e.offset)).toEqual([4]);
    // One big message pushes out as many small ones as it takes.
    w.push(env(6, "a"), 250);
    expect(w.after("a", 0).map((e) => e.offset)).toEqual([6]);
    expect(w.after("b", 0)).toEqual([]);
    expect(w.covers({ offset: 5, epoch: "e1" })).toBe(true);
    expect(w.covers({ offset: 4, epoch: "e1" })).toBe(false);
  });

  it("a message bigger than the whole bound is not kept, and the window claims nothing before it", () => {
    const w = new RecentWindow(1000, 300);
    w.reset({ offset: 0, epoch: "e1" });
    w.push(env(1), 100);
    w.push(env(2), 1000);
    expect(w.size).toBe(0);
    expect(w.bytes).toBe(0);
    expect(w.covers({ offset: 1, epoch: "e1" })).toBe(false);
    expect(w.covers({ offset: 2, epoch: "e1" })).toBe(true);
    w.push(env(3), 10);
    expect(w.after("a", 2).map((e) => e.offset)).toEqual([3]);
  });

  it("counts a message's JSON size when the caller does not give it", () => {
    const small = new RecentWindow(1000, 10_000);
    small.reset({ offset: 0, epoch: "e1" });
    small.push({ ...env(1), data: "x".repeat(6000) });
    small.push({ ...env(2), data: "y".repeat(6000) });
    expect(small.size).toBe(1);
    expect(small.bytes).toBeGreaterThan(6000);
    expect(small.after("a", 0).map((e) => e.offset)).toEqual([2]);
  });

  it("never holds more than either bound, whatever the sizes and channels", () => {
    const random = rng(7);
    const w = new RecentWindow(50, 5000);
    w.reset({ offset: 0, epoch: "e1" });
    let [mostMessages, mostBytes] = [0, 0];
    for (let o = 1; o <= 5000; o++) {
      w.push(env(o, `c${Math.floor(random() * 7)}`), 1 + Math.floor(random() * 400));
      mostMessages = Math.max(mostMessages, w.size);
      mostBytes = Math.max(mostBytes, w.bytes);
    }
    expect(mostMessages).toBeLessThanOrEqual(50);
    expect(mostBytes).toBeLessThanOrEqual(5000);
    expect(mostBytes).toBeGreaterThan(4500); // the byte bound was reached, and held
  });
});

describe("RecentWindow lookup by channel", () => {
  it("returns exactly the channel's messages after an offset, oldest first, up to a limit", () => {
    const random = rng(11);
    const w = new RecentWindow(300);
    w.reset({ offset: 0, epoch: "e1" });
    const all: Envelope[] = [];
    for (let o = 1; o <= 1000; o++) {
      const e = env(o, `c${Math.floor(random() * 5)}`);
      all.push(e);
      w.push(e);
    }
    const held = all.slice(-300);
    for (const channel of ["c0", "c3", "nobody"]) {
      for (const after of [700, 701, 850, 999, 1000]) {
        expect(w.covers({ offset: after, epoch: "e1" })).toBe(true);
        const expected = held.filter((e) => e.channel === channel && e.offset > after);
        expect(w.after(channel, after)).toEqual(expected);
        expect(w.after(channel, after, 3)).toEqual(expected.slice(0, 3));
      }
    }
  });

  it("costs what it returns, not a scan of the whole window", () => {
    let reads = 0;
    /** An envelope that counts how often its offset and channel are read. */
    const counted = (offset: number, channel: string): Envelope => {
      const read = <T>(value: T) => ({
        get: () => {
          reads++;
          return value;
        },
        enumerable: true,
      });
      return Object.defineProperties(
        { ...env(offset, channel) },
        { offset: read(offset), channel: read(channel) },
      );
    };
    const w = new RecentWindow(10_000);
    w.reset({ offset: 0, epoch: "e1" });
    for (let o = 1; o <= 5_000; o++) w.push(counted(o, `c${o % 100}`), 100);
    reads = 0;
    const got = w.after("c42", 4_000);
    expect(got.map((e) => e.offset)).toEqual(Array.from({ length: 10 }, (_, i) => 4_042 + i * 100));
    // A binary search among the channel's 50 messages, not a look at 5,000.
    expect(reads).toBeLessThan(40);
  });
});
