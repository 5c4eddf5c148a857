import type { Collection } from "mongodb";
import { describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };
import { advertisedUrl, EXPIRY_BEATS, startHeartbeat } from "../../shared/fleet/heartbeat.ts";
import type { NodeDoc, NodeReport } from "../../shared/fleet/nodes.ts";
import { createLogger } from "../../shared/log.ts";

const NOW = Date.parse("2026-01-01T00:00:00.000Z");
const INTERVAL = 3_600_000; // the loop's own beats never come again during a test: beat() is called

const report: NodeReport = {
  connections: 2,
  subscriptions: 3,
  live: true,
  position: { offset: 7, epoch: "e" },
  lag: { offsets: 0, ms: 0 },
  gaps: 0,
  missed: 0,
  publishRate: 1.5,
  delivery: { count: 4, p50Ms: 1, p99Ms: 2, maxMs: 2 },
  lastError: null,
};

/** The two operations the heartbeat uses, over one in-memory document per id. */
class FakeNodes {
  readonly docs = new Map<string, NodeDoc>();
  failing = false;
  deletes: unknown[] = [];
  async findOneAndUpdate(filter: { _id: string }, update: { $set: Omit<NodeDoc, "_id"> }) {
    if (this.failing) throw new Error("database down");
    const before = this.docs.get(filter._id) ?? null;
    this.docs.set(filter._id, { ...update.$set, _id: filter._id });
    return before;
  }
  async deleteOne(filter: { _id: string; instance: string }) {
    this.deletes.push(filter);
    const doc = this.docs.get(filter._id);
    if (doc?.instance === filter.instance) this.docs.delete(filter._id);
  }
  get collection(): Collection<NodeDoc> {
    return this as unknown as Collection<NodeDoc>;
  }
}

/** A heartbeat on `nodes`; its loop writes the first beat at once, at `startAt`. */
function setup(nodes = new FakeNodes(), nodeId = "tailer-1", startAt = NOW) {
  const lines: string[] = [];
  const now = startAt;
  const hb = startHeartbeat(
    { nodeId, role: "tailer", url: "http://h:8081", intervalMs: INTERVAL },
    {
      nodes: async () => nodes.collection,
      now: async () => now,
      report: () => report,
      log: createLogger("test", { level: "info", format: "json", write: (l) => lines.push(l) }),
    },
  );
  const logged = () => lines.map((l) => (JSON.parse(l) as { level: string; msg: string }).msg);
  return { hb, nodes, logged };
}

describe("fleet heartbeat", () => {
  it("writes the node's document, expiring a few intervals after the beat, on the given clock", async () => {
    const { hb, nodes } = setup();
    await hb.beat();
    const doc = nodes.docs.get("tailer-1");
    expect(doc).toMatchObject({
      ...report,
      role: "tailer",
      url: "http://h:8081",
      version: pkg.version,
      beatAt: new Date(NOW),
      expiresAt: new Date(NOW + EXPIRY_BEATS * INTERVAL),
    });
    expect(doc?.startedAt).toBeInstanceOf(Date);
    await hb.stop();
  });

  it("stop removes only its own document", async () => {
    const { hb, nodes } = setup();
    await hb.beat();
    const instance = nodes.docs.get("tailer-1")?.instance;
    await hb.stop();
    expect(nodes.docs.has("tailer-1")).toBe(false);
    expect(nodes.deletes).toEqual([{ _id: "tailer-1", instance }]);

    // A successor under the same id is not removed by an older process stopping late.
    const old = setup(new FakeNodes(), "tailer-2");
    await old.hb.beat();
    const successor = setup(old.nodes, "tailer-2");
    await successor.hb.beat();
    await old.hb.stop();
    expect(old.nodes.docs.has("tailer-2")).toBe(true);
    await successor.hb.stop();
  });

  it("logs a failing write once, keeps trying, and says when it works again; it never throws", async () => {
    const nodes = new FakeNodes();
    nodes.failing = true;
    const { hb, logged } = setup(nodes);
    await hb.beat();
    await hb.beat();
    await hb.beat();
    expect(nodes.docs.size).toBe(0);
    nodes.failing = false;
    await hb.beat();
    expect(nodes.docs.size).toBe(1);
    const heartbeatLines = logged().filter((m) => m.includes("heartbeat"));
    expect(heartbeatLines).toEqual([
      "fleet heartbeat failed; retrying every interval",
      "fleet heartbeat written again",
    ]);
    await hb.stop();
  });

  it("warns once when another live process writes under the same node id, not about an expired one", async () => {
    const nodes = new FakeNodes();
    const first = setup(nodes);
    await first.hb.beat();
    const second = setup(nodes);
    await second.hb.beat();
    await first.hb.beat();
    await second.hb.beat();
    const warning = (l: string[]) => l.filter((m) => m.includes("another live process")).length;
    expect(warning(first.logged())).toBe(1);
    expect(warning(second.logged())).toBe(1);

    // A restart after the old process died and its heartbeat expired is no conflict.
    const restarted = setup(nodes, "tailer-1", NOW + EXPIRY_BEATS * INTERVAL + 1);
    await restarted.hb.beat();
    expect(warning(restarted.logged())).toBe(0);
    await Promise.all([first.hb.stop(), second.hb.stop(), restarted.hb.stop()]);
  });
});

describe("advertisedUrl", () => {
  it("is the listening address, or the host name for every interface", () => {
    expect(advertisedUrl("127.0.0.1", 8081)).toBe("http://127.0.0.1:8081");
    expect(advertisedUrl("::1", 8081)).toBe("http://[::1]:8081");
    expect(advertisedUrl("0.0.0.0", 8081)).toMatch(/^http:\/\/[^/]+:8081$/);
    expect(advertisedUrl("0.0.0.0", 8081)).not.toContain("0.0.0.0");
  });
});
