/**
 * G4 (recovery anywhere) and G2 (no loss, no duplicate) across node loss: a tailer is SIGKILLed while a
 * publisher keeps publishing; its clients notice the disconnect, connect to the surviving node and
 * re-subscribe with `since` = the last position they saw — and end with exactly the acknowledged
 * sequence of each channel. Then clients that pause while messages are published resume on another
 * node, replayed from that node's memory window or from the bus, with publishing going on through the
 * seam between replay and live.
 */
import { describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { guaranteeStack } from "../helpers/guarantee-stack.ts";
import {
  explained,
  gapReport,
  nodeStats,
  pollUntil,
  publishOne,
  type Receipt,
  type Refused,
  receiptsOf,
  runPublisher,
  sequenceProblems,
} from "../helpers/guarantees.ts";
import type { RecordingClient } from "../helpers/recording-client.ts";
import { startTailer } from "../helpers/stack.ts";

const stack = guaranteeStack(import.meta.url, {
  // A bus that holds everything these tests publish, and small enough for cheap FerretDB scans (docs/ferretdb.md).
  env: { TAILCAST_BUS_MAX_DOCS: "10000" },
  tailers: [{ nodeId: "fo-a" }, { nodeId: "fo-b" }],
});
const { db, env, nodes } = stack;

async function client(name: string, node: Component, channels: string[]): Promise<RecordingClient> {
  const c = await stack.connected(name, node);
  for (const channel of channels) expect((await c.subscribe(channel)).recovered).toBe(true);
  return c;
}

/** A publisher that runs until stopped; stopping lets the request in flight finish (known outcome). */
function publisher(name: string, channels: string[]) {
  const receipts: Receipt[] = [];
  const refused: Refused[] = [];
  const stop = new AbortController();
  const done = runPublisher({
    name,
    ingests: [stack.ingest],
    channels,
    batchSize: 5,
    singleEvery: 3,
    pauseMs: 10,
    into: receipts,
    refused,
    signal: stop.signal,
  });
  return {
    receipts,
    refused,
    /** Resolves once `n` more messages of `channel` (any, if omitted) have been acknowledged. */
    acknowledged: (n: number, channel?: string) => {
      const count = () => (channel ? receiptsOf(receipts, channel).length : receipts.length);
      const target = count() + n;
      return pollUntil(
        `${n} more acknowledged`,
        async () => (count() >= target ? true : undefined),
        30_000,
        10,
      );
    },
    stop: async () => {
      stop.abort();
      await done;
    },
  };
}

/** Markers published after the publisher stopped: once a client has them, it has everything before them. */
async function drain(subs: RecordingClient[], channels: string[], receipts: Receipt[]): Promise<void> {
  const markers = await Promise.all(
    channels.map((channel) => publishOne(stack.ingest, { channel, data: "end" })),
  );
  receipts.push(...markers);
  const arrived = Promise.all(
    subs.map((c) =>
      c.waitForIds(
        markers.filter((m) => c.channels().includes(m.channel)).map((m) => m.id),
        30_000,
      ),
    ),
  );
  await explained(arrived, nodes, inject("mongodbUri"), db);
}

/** Each client must hold exactly the acknowledged messages of its channels after its first subscribe. */
function expectExact(subs: RecordingClient[], receipts: Receipt[]): void {
  for (const c of subs) {
    for (const channel of c.channels()) {
      const first = c.acks.find((a) => a.channel === channel);
      expect(first?.since ?? null).toBeNull(); // joined live: its sequence starts after the first ack
      const from = first?.ack.offset ?? -1;
      const expected = receiptsOf(receipts, channel).filter((r) => r.offset > from);
      const got = c.of(channel);
      expect
        .soft(sequenceProblems(got, expected), `${c.name} on ${channel} (${got.length} received)`)
        .toEqual([]);
    }
    expect.soft(c.anomalies, c.name).toEqual([]);
  }
}

/** Messages the client got on its latest connection for `channel` before / after that subscribe's ack. */
function seam(c: RecordingClient, channel: string) {
  const record = c.acks.filter((a) => a.channel === channel).at(-1);
  if (!record) throw new Error(`${c.name} never subscribed to ${channel}`);
  const onChannel = (from: number, to: number) =>
    c.received.slice(from, to).filter((m) => m.channel === channel);
  return {
    record,
    replayed: onChannel(record.receivedAtConnect, record.receivedAtAck),
    live: () => onChannel(record.receivedAtAck, c.received.length),
  };
}

describe("G4/G2: clients of a crashed node resume on another", () => {
  it("after kill -9 of their node, every client ends with exactly the acknowledged sequence", async () => {
    const [a, b] = nodes as [Component, Component];
    const channels = ["fo-1", "fo-2"];
    const onA = [
      await client("a-both", a, ["fo-1", "fo-2"]),
      await client("a-two", a, ["fo-2"]),
      // Receives nothing before the crash: it resumes from its subscribe ack's position.
      await client("a-quiet", a, ["fo-3"]),
    ];
    const control = await client("b-all", b, ["fo-1", "fo-2", "fo-3"]);
    const [aBoth, aTwo, aQuiet] = onA as [RecordingClient, RecordingClient, RecordingClient];

    const pub = publisher("failover", channels);
    await aBoth.waitUntil("traffic before the crash", () => aBoth.received.length >= 100, 30_000);
    await aTwo.waitUntil("traffic before the crash", () => aTwo.received.length >= 50, 30_000);
    expect(aQuiet.received).toEqual([]);

    // Each client notices the disconnect by itself; it reconnects a little later, so the surviving node
    // must replay what was published meanwhile (and whatever the dead node had not delivered yet).
    const failovers = onA.map(async (c) => {
      const reason = await c.disconnected;
      await pub.acknowledged(20, c === aQuiet ? "fo-3" : undefined);
      return { reason, acks: await c.resume(b.url) };
    });
    const exit = await a.kill("SIGKILL");
    expect(exit.signal).toBe("SIGKILL");
    channels.push("fo-3"); // the quiet channel starts only now
    const results = await Promise.all(failovers);

    for (const [i, { reason, acks }] of results.entries()) {
      const c = onA[i] as RecordingClient;
      expect(reason, c.name).toBe("transport close");
      expect(c.url).toBe(b.url);
      for (const [channel, ack] of acks) {
        expect({ client: c.name, channel, recovered: ack.recovered }).toEqual({
          client: c.name,
          channel,
          recovered: true,
        });
      }
    }
    // The quiet client resumed from its subscribe ack, so it gets fo-3 from its very first message.
    expect(aQuiet.acks[1]?.since).toEqual({
      offset: aQuiet.acks[0]?.ack.offset,
      epoch: aQuiet.acks[0]?.ack.epoch,
    });

    // Keep publishing through the seam until every resumed client has live traffic after its ack.
    await Promise.all(
      onA.map((c) =>
        c.waitUntil(
          "live messages after the resume",
          () => c.channels().every((ch) => seam(c, ch).live().length >= 10),
          30_000,
        ),
      ),
    );
    await pub.stop();
    await drain([...onA, control], channels, pub.receipts);

    expect(pub.refused).toEqual([]);
    expectExact([...onA, control], pub.receipts);
    for (const c of onA) {
      const replayed = c.channels().reduce((n, ch) => n + seam(c, ch).replayed.length, 0);
      expect.soft(replayed, `${c.name}: messages replayed on resume`).toBeGreaterThan(0);
    }
    const stats = await nodeStats(b);
    const report = await gapReport(b, inject("mongodbUri"), db);
    expect(report, report).toBe("");
    expect(stats.recovery.served).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it("clients that pause get what they missed from another node — from its window or from the bus — then live", async () => {
    const b = nodes[1] as Component;
    const channels = ["pa-bus", "pa-window"];
    const pub = publisher("pause", channels);

    // Paused before node C exists: C's memory window cannot cover it, so C replays from the bus.
    const fromBus = await client("pause-bus", b, ["pa-bus"]);
    await fromBus.waitUntil("traffic before the pause", () => fromBus.received.length >= 30, 30_000);
    fromBus.close();
    await pub.acknowledged(100, "pa-bus");

    const c = await startTailer({ db, env, nodeId: "fo-c" });
    nodes.push(c);
    // Paused after C started tailing: C's window holds everything after its position.
    const fromWindow = await client("pause-window", b, ["pa-window"]);
    await fromWindow.waitUntil("traffic before the pause", () => fromWindow.received.length >= 30, 30_000);
    fromWindow.close();
    await pub.acknowledged(100, "pa-window");

    const before = await nodeStats(c);
    // Both resume while the publisher goes on: replay, then live, with no hole and no duplicate at the seam.
    const [busAcks, windowAcks] = await Promise.all([fromBus.resume(c.url), fromWindow.resume(c.url)]);
    expect(busAcks.get("pa-bus")?.recovered).toBe(true);
    expect(windowAcks.get("pa-window")?.recovered).toBe(true);
    await Promise.all(
      [fromBus, fromWindow].map((s) =>
        s.waitUntil(
          "live after the resume",
          () => seam(s, s.channels()[0] as string).live().length >= 20,
          30_000,
        ),
      ),
    );
    await pub.stop();
    await drain([fromBus, fromWindow], channels, pub.receipts);

    expect(pub.refused).toEqual([]);
    expectExact([fromBus, fromWindow], pub.receipts);
    for (const s of [fromBus, fromWindow]) {
      const { replayed } = seam(s, s.channels()[0] as string);
      // What the node had tailed of the 100+ missed messages came before the ack; the rest, live after it.
      expect.soft(replayed.length, `${s.name}: replayed before the ack`).toBeGreaterThan(0);
    }
    const after = await nodeStats(c);
    const report = await gapReport(c, inject("mongodbUri"), db);
    expect(report, report).toBe("");
    expect(after.recovery.served - before.recovery.served).toBe(2);
    expect(after.recovery.fromBus - before.recovery.fromBus).toBe(1);
    expect(after.recovery.fromWindow - before.recovery.fromWindow).toBe(1);
    expect(after.recovery.unrecovered - before.recovery.unrecovered).toBe(0);
  }, 90_000);
});
