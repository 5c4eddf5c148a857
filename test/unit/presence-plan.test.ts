/**
 * The presence batch (shared/presence/plan.ts): what a node writes at each interval from what it wrote
 * before and what it counts now. Pure, so 100k channels run in a unit test: the refresh budget bounds
 * every interval's writes, and no document is ever left to expire while its channel has subscribers.
 */
import { describe, expect, it } from "vitest";
import {
  type ChannelCount,
  commitPresencePlan,
  DEADLINE_INTERVALS,
  planPresence,
  planSize,
  REFRESH_EVERY_INTERVALS,
  TTL_INTERVALS,
  type WrittenPresence,
} from "../../shared/presence/plan.ts";
import { summarizePresence } from "../../shared/presence/summary.ts";
import { PresenceTally } from "../../tailer/presence-tally.ts";

const I = 5000;
const counts = (entries: Array<[string, number, number?]>) =>
  new Map<string, ChannelCount>(entries.map(([c, n, rev = 0]) => [c, { subscribers: n, rev }]));
const channelsOf = (ws: Array<{ channel: string }>) => ws.map((w) => w.channel).sort();

describe("planPresence", () => {
  it("writes new and changed channels, deletes emptied ones, and nothing else", () => {
    const written: WrittenPresence = new Map();
    let plan = planPresence(
      written,
      counts([
        ["a", 1],
        ["b", 2],
      ]),
      0,
      I,
    );
    expect(channelsOf(plan.changed)).toEqual(["a", "b"]);
    expect(plan.deletes).toEqual([]);
    commitPresencePlan(written, plan, 0);

    plan = planPresence(
      written,
      counts([
        ["a", 1],
        ["b", 2],
      ]),
      I,
      I,
    );
    // Unchanged: only a refresh, within the budget (2 documents / 8 intervals, rounded up).
    expect(plan.changed).toEqual([]);
    expect(channelsOf(plan.refreshes)).toEqual(["a"]);
  });

  it("counts unchanged as unchanged, a changed count or subject set as changed", () => {
    const written: WrittenPresence = new Map();
    commitPresencePlan(
      written,
      planPresence(
        written,
        counts([
          ["a", 1],
          ["b", 2],
          ["c", 3],
        ]),
        0,
        I,
      ),
      0,
    );
    const plan = planPresence(
      written,
      counts([
        ["a", 1],
        ["b", 3],
        ["c", 3, 7],
        ["d", 1],
      ]),
      100,
      I,
    );
    expect(channelsOf(plan.changed)).toEqual(["b", "c", "d"]);
    expect(plan.changed.find((w) => w.channel === "b")?.subscribers).toBe(3);
    expect(plan.refreshes).toEqual([]); // written 100 ms ago
    const gone = planPresence(written, counts([["b", 2]]), 100, I);
    expect(gone.deletes.sort()).toEqual(["a", "c"]);
    expect(gone.changed).toEqual([]);
  });

  it("a failed write is planned again (nothing committed)", () => {
    const written: WrittenPresence = new Map();
    const first = planPresence(written, counts([["a", 1]]), 0, I);
    const again = planPresence(written, counts([["a", 1]]), I, I);
    expect(again.changed).toEqual(first.changed);
  });

  it("commits the planned counts, not later ones", () => {
    const written: WrittenPresence = new Map();
    const live = counts([["a", 1]]);
    const plan = planPresence(written, live, 0, I);
    live.set("a", { subscribers: 5, rev: 0 }); // a join while the write was in flight
    commitPresencePlan(written, plan, 0);
    expect(channelsOf(planPresence(written, live, 1, I).changed)).toEqual(["a"]);
  });

  it("at 100k channels: the start writes each once, then every interval stays within the refresh budget", () => {
    const n = 100_000;
    const current = new Map<string, ChannelCount>();
    for (let i = 0; i < n; i++) current.set(`ch-${i}`, { subscribers: 1 + (i % 3), rev: 0 });
    const written: WrittenPresence = new Map();
    const started = performance.now();
    let plan = planPresence(written, current, 0, I);
    const planMs = performance.now() - started;
    expect(plan.changed).toHaveLength(n);
    commitPresencePlan(written, plan, 0);

    const budget = Math.ceil(n / REFRESH_EVERY_INTERVALS);
    const lastWrite = new Map<string, number>([...written].map(([c, w]) => [c, w.writtenAt]));
    const perInterval: number[] = [];
    // Three refresh cycles, 1% of the channels changing every interval.
    for (let k = 1; k <= 3 * REFRESH_EVERY_INTERVALS; k++) {
      const now = k * I;
      for (let j = 0; j < n / 100; j++) {
        const ch = `ch-${(k * 7919 + j * 101) % n}`;
        const c = current.get(ch) as ChannelCount;
        current.set(ch, { subscribers: c.subscribers + 1, rev: c.rev });
      }
      plan = planPresence(written, current, now, I);
      expect(plan.changed).toHaveLength(n / 100);
      expect(plan.refreshes.length).toBeLessThanOrEqual(budget);
      perInterval.push(planSize(plan));
      commitPresencePlan(written, plan, now);
      for (const w of [...plan.changed, ...plan.refreshes]) lastWrite.set(w.channel, now);
      // No document is older than the deadline: none ever gets near its expiry.
      let oldest = now;
      for (const at of lastWrite.values()) oldest = Math.min(oldest, at);
      expect(now - oldest).toBeLessThanOrEqual(DEADLINE_INTERVALS * I);
    }
    // Steady state: the changes plus channels / REFRESH_EVERY_INTERVALS refreshes, every interval.
    expect(Math.max(...perInterval)).toBeLessThanOrEqual(n / 100 + budget);
    const steady = perInterval.slice(REFRESH_EVERY_INTERVALS);
    expect(Math.min(...steady)).toBeGreaterThan(budget / 2); // spread, not in bursts
    console.log(
      `presence plan, 100k channels: first plan ${planMs.toFixed(1)} ms; ops per interval (1% changing) ` +
        `min ${Math.min(...steady)} max ${Math.max(...perInterval)}, refresh budget ${budget}`,
    );
  });

  it("refreshes oldest first, and a document at its deadline whatever the budget", () => {
    const written: WrittenPresence = new Map();
    const current = counts([]);
    for (let i = 0; i < 16; i++) current.set(`c${i}`, { subscribers: 1, rev: 0 });
    commitPresencePlan(written, planPresence(written, current, 0, I), 0);
    let plan = planPresence(written, current, I, I);
    expect(channelsOf(plan.refreshes)).toEqual(["c0", "c1"]); // 16 / 8
    commitPresencePlan(written, plan, I);
    plan = planPresence(written, current, 2 * I, I);
    expect(channelsOf(plan.refreshes)).toEqual(["c2", "c3"]);
    // Writes failed for a long time: everything at the deadline is refreshed at once.
    plan = planPresence(written, current, DEADLINE_INTERVALS * I + I, I);
    expect(plan.refreshes).toHaveLength(16);
    expect(DEADLINE_INTERVALS).toBeLessThan(TTL_INTERVALS);
  });
});

describe("PresenceTally", () => {
  it("counts connections per channel and distinct subjects, bumping rev only when the subject set changes", () => {
    const tally = new PresenceTally({ subjects: true });
    tally.join("a", "alice");
    const rev = tally.counts.get("a")?.rev;
    tally.join("a", "alice");
    expect(tally.counts.get("a")).toMatchObject({ subscribers: 2, rev });
    tally.join("a", "bob");
    expect(tally.counts.get("a")?.rev).not.toBe(rev);
    expect(tally.subjects("a", 100)).toEqual(["alice", "bob"]);
    expect(tally.subjects("a", 1)).toEqual(["alice"]);
    tally.leave("a", "alice");
    expect(tally.subjects("a", 100)).toEqual(["alice", "bob"]);
    tally.leave("a", "alice");
    expect(tally.subjects("a", 100)).toEqual(["bob"]);
    tally.leave("a", "bob");
    expect(tally.counts.has("a")).toBe(false);
  });

  it("a channel that empties and fills again gets a new rev", () => {
    const tally = new PresenceTally({ subjects: false });
    tally.join("a", null);
    const rev = tally.counts.get("a")?.rev;
    tally.leave("a", null);
    tally.join("a", null);
    expect(tally.counts.get("a")?.rev).not.toBe(rev);
    expect(tally.subjects("a", 10)).toBeUndefined();
  });
});

describe("summarizePresence", () => {
  it("sums subscribers, counts nodes, merges subjects only when some node sent them", () => {
    expect(
      summarizePresence("c", [
        { node: "n1", subscribers: 2 },
        { node: "n2", subscribers: 3 },
      ]),
    ).toEqual({ channel: "c", subscribers: 5, nodes: 2 });
    expect(
      summarizePresence("c", [
        { node: "n1", subscribers: 2, subjects: ["bob", "alice"] },
        { node: "n2", subscribers: 1, subjects: ["alice"] },
      ]),
    ).toEqual({ channel: "c", subscribers: 3, nodes: 2, subjects: ["alice", "bob"] });
  });
});
