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
