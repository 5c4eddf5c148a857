import { describe, expect, it } from "vitest";
import type { NodeDoc } from "../../shared/fleet/nodes.ts";
import { buildStatus, type StatusInputs } from "../../tailer/status.ts";

const now = new Date("2026-01-01T00:10:00.000Z");
const at = (iso: string) => new Date(`2026-01-01T${iso}Z`);

function node(id: string, overrides: Partial<NodeDoc> = {}): NodeDoc {
  return {
    _id: id,
    instance: `i-${id}`,
    role: "tailer",
    url: `http://${id}:8081`,
    version: "0.1.0",
    startedAt: at("00:00:00.000"),
    beatAt: at("00:09:58.000"),
    expiresAt: at("00:10:13.000"),
    connections: 3,
    subscriptions: 5,
    live: true,
    position: { offset: 1000, epoch: "e1" },
    lag: { offsets: 0, ms: 0 },
    gaps: 0,
    missed: 0,
    publishRate: 20,
    delivery: { count: 100, p50Ms: 2, p99Ms: 9, maxMs: 12 },
    lastError: null,
    ...overrides,
  };
}

const ingest = node("functions-h-8080", {
  role: "functions",
  connections: 7,
  subscriptions: null,
  live: null,
  position: null,
  lag: null,
  gaps: null,
  missed: null,
  publishRate: null,
  delivery: null,
  lastError: { message: "503 on POST /v1/messages", at: at("00:05:00.000") },
});

function inputs(overrides: Partial<StatusInputs> = {}): StatusInputs {
  return {
    now,
    self: "tailer-1",
    nodes: [node("tailer-2"), ingest, node("tailer-1")],
    bus: {
      oldest: { offset: 401, epoch: "e1", ts: at("00:09:30.000") },
      newest: { offset: 1000, epoch: "e1", ts: at("00:09:59.900") },
    },
    busError: null,
    nodesError: null,
    publishRate: 20,
    ...overrides,
  };
}

describe("buildStatus", () => {
  it("lists tailers first, then ingest processes, each by id, and marks the serving node", () => {
    const s = buildStatus(inputs());
    expect(s.nodes.map((n) => [n.id, n.role, n.self])).toEqual([
      ["tailer-1", "tailer", true],
      ["tailer-2", "tailer", false],
      ["functions-h-8080", "functions", false],
    ]);
    expect(s.servedBy).toBe("tailer-1");
    expect(s.generatedAt).toBe(now.toISOString());
  });

  it("gives every node's age, last beat and figures, with times as ISO strings", () => {
    const [first] = buildStatus(inputs()).nodes;
    expect(first).toMatchObject({
      url: "http://tailer-1:8081",
      version: "0.1.0",
      startedAt: "2026-01-01T00:00:00.000Z",
      uptimeSeconds: 600,
      beatAgeMs: 2000,
      connections: 3,
      subscriptions: 5,
      position: { offset: 1000, epoch: "e1" },
      delivery: { p50Ms: 2, p99Ms: 9 },
    });
    const fn = buildStatus(inputs()).nodes[2];
    expect(fn?.lastError).toEqual({ message: "503 on POST /v1/messages", at: "2026-01-01T00:05:00.000Z" });
  });

  it("drops nodes whose heartbeat expired, even if the server has not deleted them (FerretDB, TTL monitor)", () => {
    const dead = node("tailer-0", { expiresAt: now });
    const s = buildStatus(inputs({ nodes: [dead, node("tailer-1")] }));
    expect(s.nodes.map((n) => n.id)).toEqual(["tailer-1"]);
  });

  it("reports the bus's span, and the retention the retained messages give at the current publish rate", () => {
    const { bus } = buildStatus(inputs());
    expect(bus).toEqual({
      epoch: "e1",
      oldestOffset: 401,
      newestOffset: 1000,
      oldestTs: "2026-01-01T00:09:30.000Z",
      newestTs: "2026-01-01T00:09:59.900Z",
      retainedMessages: 600,
      coveredSeconds: 29.9,
      publishRate: 20,
      retentionSeconds: 30, // 600 messages at 20/s
    });
  });

  it("has no retention figure while nothing is published (history is then kept indefinitely)", () => {
    expect(buildStatus(inputs({ publishRate: 0 })).bus?.retentionSeconds).toBeNull();
    expect(buildStatus(inputs({ publishRate: null })).bus?.retentionSeconds).toBeNull();
  });

  it("does not mix two incarnations of the bus read across a recreation", () => {
    const bus = {
      oldest: { offset: 5, epoch: "old", ts: at("00:00:00.000") },
      newest: { offset: 3, epoch: "new", ts: at("00:09:59.000") },
    };
    expect(buildStatus(inputs({ bus })).bus).toMatchObject({
      epoch: "new",
      newestOffset: 3,
      oldestOffset: null,
      retainedMessages: null,
      coveredSeconds: null,
      retentionSeconds: null,
    });
  });

  it("says why the bus or the heartbeats are missing", () => {
    const s = buildStatus(inputs({ bus: null, busError: "no answer within 2000 ms" }));
    expect(s.bus).toBeNull();
    expect(s.busError).toBe("no answer within 2000 ms");
    expect(s.nodesError).toBeNull();
    const blind = buildStatus(inputs({ nodes: [], nodesError: "connection refused" }));
    expect([blind.nodes, blind.nodesError]).toEqual([[], "connection refused"]);
    expect(buildStatus(inputs({ bus: { oldest: null, newest: null } })).bus).toBeNull();
  });

  it("adds up the tailers' connections, subscriptions and gaps, and takes the worst p99 and lag", () => {
    const nodes = [
      node("tailer-1", { gaps: 1, missed: 40, delivery: { count: 5, p50Ms: 1, p99Ms: 30, maxMs: 31 } }),
      node("tailer-2", { connections: 10, subscriptions: null, lag: { offsets: 12, ms: 250 } }),
      node("tailer-3", { delivery: { count: 0, p50Ms: null, p99Ms: null, maxMs: null }, lag: null }),
      ingest,
    ];
    expect(buildStatus(inputs({ nodes })).fleet).toEqual({
      tailers: 3,
      functions: 1,
      connections: 16, // the ingest process's HTTP connections are not subscriber connections
      subscriptions: 10,
      gaps: 1,
      missed: 40,
      worstDeliveryP99Ms: 30,
      worstLagMs: 250,
    });
  });

  it("has empty totals for an empty fleet", () => {
    expect(buildStatus(inputs({ nodes: [] })).fleet).toEqual({
      tailers: 0,
      functions: 0,
      connections: 0,
      subscriptions: 0,
      gaps: 0,
      missed: 0,
      worstDeliveryP99Ms: null,
      worstLagMs: null,
    });
  });
});
