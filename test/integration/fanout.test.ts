/**
 * The whole path: POST → bus → two tailer processes → socket.io-client subscribers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { post, publish, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
let ingest: Component;
let nodes: Component[] = [];
const clients: Subscriber[] = [];

beforeAll(async () => {
  ingest = await startFunctions({ db });
  nodes = await Promise.all([startTailer({ db, nodeId: "n1" }), startTailer({ db, nodeId: "n2" })]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await stopAll([ingest, ...nodes]);
});

async function subscriber(node: Component, channel: string, events?: string[]): Promise<Subscriber> {
  const s = await connectSubscriber(node.url, events);
  clients.push(s);
  const ack = await s.subscribe(channel);
  expect(ack).toMatchObject({ ok: true, channel, recovered: true });
  return s;
}

describe("publish → tailers → Socket.IO", () => {
  it("delivers every message to subscribers on both nodes, in the same order, with a complete envelope", async () => {
    const a = await subscriber(nodes[0] as Component, "room-1", ["chat", "message"]);
    const b = await subscriber(nodes[1] as Component, "room-1", ["chat", "message"]);
    const acks = [];
    for (let i = 0; i < 30; i++) {
      const res = await publish(
        ingest,
        "room-1",
        { n: i, text: `hello ${i}` },
        i % 3 === 0 ? "message" : "chat",
      );
      expect(res.status).toBe(201);
      acks.push(res.body);
    }
    const [got, other] = await Promise.all([a.waitFor(30), b.waitFor(30)]);
    expect(got.map((m) => m.id)).toEqual(acks.map((r) => r.id));
    expect(other.map((m) => m.id)).toEqual(acks.map((r) => r.id));
    const offsets = got.map((m) => m.offset);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]).toBeGreaterThan(offsets[i - 1] as number);
    const first = got[0];
    expect(first).toEqual({
      id: acks[0]?.id,
      channel: "room-1",
      event: "message",
      data: { n: 0, text: "hello 0" },
      offset: acks[0]?.offset,
      epoch: acks[0]?.epoch,
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(got[1]?.event).toBe("chat");
  });

  it("delivers only the channels a client subscribed to, and a batch in order", async () => {
    const x = await subscriber(nodes[0] as Component, "batch-x");
    const y = await subscriber(nodes[1] as Component, "batch-y");
    const res = await post(`${ingest.url}/v1/messages`, {
      messages: [
        { channel: "batch-x", data: 1 },
        { channel: "batch-y", data: 2 },
        { channel: "batch-x", data: 3 },
        { channel: "batch-x", data: { deep: ["x"] } },
      ],
    });
    expect(res.status).toBe(201);
    const results = res.body.results as Array<{ offset: number; channel: string }>;
    expect(results.map((r) => r.channel)).toEqual(["batch-x", "batch-y", "batch-x", "batch-x"]);
    expect(results.map((r) => r.offset - (results[0]?.offset ?? 0))).toEqual([0, 1, 2, 3]);
    expect((await x.waitFor(3)).map((m) => m.data)).toEqual([1, 3, { deep: ["x"] }]);
    expect((await y.waitFor(1)).map((m) => m.data)).toEqual([2]);
    // A marker published after the batch proves nothing else of batch-y is on its way to x.
    await publish(ingest, "batch-x", "marker");
    await x.waitFor(4);
    expect(x.received.every((m) => m.channel === "batch-x")).toBe(true);
  });

  it("stops delivering a channel after unsubscribe", async () => {
    const s = await subscriber(nodes[0] as Component, "unsub");
    await s.socket.timeout(5000).emitWithAck("subscribe", { channel: "unsub-marker" });
    await publish(ingest, "unsub", "before");
    await s.waitFor(1, { channel: "unsub" });
    expect(await s.unsubscribe("unsub")).toEqual({ ok: true, channel: "unsub" });
    await publish(ingest, "unsub", "after");
    await publish(ingest, "unsub-marker", "marker");
    await s.waitFor(1, { channel: "unsub-marker" });
    expect(s.received.filter((m) => m.channel === "unsub").map((m) => m.data)).toEqual(["before"]);
  });

  it("a tailer started after messages were published does not replay them (G3)", async () => {
    for (let batch = 0; batch < 3; batch++) {
      const messages = Array.from({ length: 100 }, (_, i) => ({ channel: "history", data: batch * 100 + i }));
      expect((await post(`${ingest.url}/v1/messages`, { messages })).status).toBe(201);
    }
    const late = await startTailer({ db, nodeId: "late" });
    try {
      const s = await subscriber(late, "history");
      const res = await publish(ingest, "history", "live");
      expect(res.status).toBe(201);
      const [only] = await s.waitFor(1);
      expect(only?.data).toBe("live");
      // Another live message: still nothing of the history arrives in between.
      const last = await publish(ingest, "history", "live-2");
      expect((await s.waitFor(2)).map((m) => m.data)).toEqual(["live", "live-2"]);
      // Caught up: its position is the newest message, and its lag probe says it is 0 behind.
      type Stats = {
        tail: { position: { offset: number } };
        lag: { offsets: number; checkedAt: string } | null;
      };
      const stats = async () => (await (await fetch(`${late.url}/stats`)).json()) as Stats;
      expect((await stats()).tail.position.offset).toBe(last.body.offset);
      await expect.poll(async () => (await stats()).lag?.offsets, { timeout: 10_000 }).toBe(0);
    } finally {
      await late.stop();
    }
  });

  it("answers malformed subscribe requests with an error ack and keeps serving", async () => {
    const s = await connectSubscriber((nodes[1] as Component).url);
    clients.push(s);
    const bad = [
      undefined,
      "chat",
      42,
      [],
      { channel: "" },
      { channel: "a b" },
      { channel: "x", since: { offset: -1 } },
    ];
    for (const request of bad) {
      const ack = await s.socket.timeout(5000).emitWithAck("subscribe", request);
      expect(ack.ok).toBe(false);
      expect(ack.error.code).toMatch(/^invalid_(request|channel)$/);
    }
    s.socket.emit("subscribe", { channel: "no-ack" }); // no ack function: must not crash the node
    s.socket.emit("unsubscribe", null);
    expect((await s.subscribe("still-fine")).ok).toBe(true);
    await publish(ingest, "still-fine", "ok");
    expect((await s.waitFor(1))[0]?.data).toBe("ok");
  });

  it("serves the demo page and its config on every node", async () => {
    for (const node of nodes) {
      const page = await fetch(`${node.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("tailcast chat");
      const config = (await (await fetch(`${node.url}/demo/config.json`)).json()) as Record<string, unknown>;
      expect(config.channel).toBe("chat");
      expect(typeof config.ingestUrl).toBe("string");
    }
  });
});
