/**
 * A tailer over three buses (TAILCAST_BUSES=3) tails only the buses its clients subscribe to, closes
 * a bus's tail after TAILCAST_TAIL_IDLE_MS without subscribers, recovers a `since` on a bus it does
 * not tail yet exactly (while messages keep coming), and tells a gap on one bus only to that bus's
 * channels. Messages are written straight into the buses (test/helpers/bus-set-writer.ts), each to its
 * channel's bus, as the ingest does.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import type { Appended } from "../../shared/bus/append.ts";
import type { Envelope } from "../../shared/message.ts";
import type { GapNotice } from "../../shared/protocol/replies.ts";
import type { BusReport } from "../../tailer/buses.ts";
import { type BusSetWriter, busSetWriter, channelIn } from "../helpers/bus-set-writer.ts";
import { pollUntil } from "../helpers/guarantees.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { componentEnv, startTailer, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const BUSES = 3;
const IDLE_MS = 300;
const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
const env = { TAILCAST_BUSES: String(BUSES), TAILCAST_TAIL_IDLE_MS: String(IDLE_MS) };
const [c0, c1, c2] = [0, 1, 2].map((i) => channelIn(i, BUSES, "tails")) as [string, string, string];

let node: Component;
let writer: BusSetWriter;
const subscribers: Subscriber[] = [];

beforeAll(async () => {
  writer = busSetWriter(componentEnv({ uri, db, env }));
  node = await startTailer({ db, env });
});
afterAll(async () => {
  for (const s of subscribers) s.close();
  await stopAll([node]);
  await writer?.close();
});

async function buses(): Promise<BusReport[]> {
  const res = await fetch(`${node.url}/stats`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { buses: BusReport[] }).buses;
}
const tailing = async () => (await buses()).map((b) => b.tailing);

async function subscriber(): Promise<Subscriber> {
  const s = await connectSubscriber(node.url);
  subscribers.push(s);
  return s;
}

const ids = (list: Envelope[]) => list.map((m) => m.id);

describe("tails on demand over three buses", () => {
  it("is ready with no tail open: every bus answers", async () => {
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    expect(await tailing()).toEqual([false, false, false]);
    expect((await buses()).map((b) => b.collection)).toEqual(["bus", "bus_1", "bus_2"]);
  });

  it("tails the buses of the subscribed channels only; a client on two buses gets everything in order", async () => {
    const sub = await subscriber();
    await sub.subscribe(c0);
    await sub.subscribe(c1);
    expect(await tailing()).toEqual([true, true, false]);

    const sent: Record<string, string[]> = { [c0]: [], [c1]: [], [c2]: [] };
    for (let i = 0; i < 30; i++) {
      for (const channel of [c0, c1, c2]) sent[channel]?.push((await writer.publish(channel, { i })).id);
    }
    await sub.waitFor(60);
    expect(ids(sub.of(c0))).toEqual(sent[c0]);
    expect(ids(sub.of(c1))).toEqual(sent[c1]);
    expect(sub.of(c2)).toEqual([]);

    const after = await buses();
    expect(after.map((b) => b.tailing)).toEqual([true, true, false]);
    // Read: what each tailed bus got since its tail opened; the untailed bus was not read at all.
    expect(after.map((b) => b.read)).toEqual([30, 30, 0]);
    expect(after.map((b) => b.delivered)).toEqual([30, 30, 0]);
    sub.close();
  });

  it("closes a bus's tail TAILCAST_TAIL_IDLE_MS after its last subscriber left; the others stay", async () => {
    const sub = await subscriber();
    await sub.subscribe(c0);
    await sub.subscribe(c2);
    await pollUntil("bus 1 idle", async () =>
      (await tailing()).join() === "true,false,true" ? true : undefined,
    );
    expect((await sub.unsubscribe(c2)).ok).toBe(true);
    await pollUntil("bus 2 idle", async () =>
      (await tailing()).join() === "true,false,false" ? true : undefined,
    );
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    // Bus 0 still delivers.
    const m = await writer.publish(c0, { still: true });
    await sub.waitForIds([m.id]);
    sub.close();
  });

  it("recovers a `since` on a bus it does not tail, exactly, while messages keep coming", async () => {
    const first = await subscriber();
    await first.subscribe(c1);
    const before = await writer.publish(c1, { n: "before" });
    await first.waitForIds([before.id]);
    first.close();
    await pollUntil("bus 1 idle", async () => ((await tailing())[1] === false ? true : undefined));

    // Missed while nobody on this node tailed bus 1.
    const sent: Appended[] = [];
    for (let i = 0; i < 20; i++) sent.push(await writer.publish(c1, { missed: i }));
    // A publisher keeps going while the tail opens and the replay runs: the seam must hold.
    let publishing = true;
    const running = (async () => {
      for (let i = 0; publishing; i++) sent.push(await writer.publish(c1, { during: i }));
    })();
    const fromBus = async () =>
      ((await (await fetch(`${node.url}/stats`)).json()) as { recovery: { fromBus: number } }).recovery
        .fromBus;
    const fromBusBefore = await fromBus();
    const resumed = await subscriber();
    const ack = await resumed.subscribe(c1, { offset: before.offset, epoch: before.epoch });
    expect(ack.recovered).toBe(true);
    // The tail had just opened: its window held none of it, the bus did.
    expect(await fromBus()).toBe(fromBusBefore + 1);
    // Some published after the ack too, then the publisher stops.
    await pollUntil("publishes after the ack", async () =>
      sent.some((m) => m.offset > ack.offset + 2) ? true : undefined,
    );
    publishing = false;
    await running;
    const inOrder = sent.sort((a, b) => a.offset - b.offset).map((m) => m.id);
    await resumed.waitForIds(inOrder);
    expect(ids(resumed.of(c1))).toEqual(inOrder);
    expect(resumed.anomalies).toEqual([]);
  });

  it("a subscribe without `since` to an untailed bus misses nothing published after its ack", async () => {
    await pollUntil("bus 2 idle", async () => ((await tailing())[2] === false ? true : undefined));
    const sub = await subscriber();
    const ack = await sub.subscribe(c2);
    const m = await writer.publish(c2, { after: "ack" });
    expect(m.offset).toBeGreaterThan(ack.offset);
    await sub.waitForIds([m.id]);
    expect(ids(sub.of(c2))).toEqual([m.id]);
  });

  it("a gap on one bus is told only to the subscribers of that bus's channels", async () => {
    const sub = await subscriber();
    await sub.subscribe(c0);
    await sub.subscribe(c1);
    const gaps: GapNotice[] = [];
    const told = new Promise<void>((resolve) =>
      sub.socket.on("gap", (g: GapNotice) => {
        gaps.push(g);
        resolve();
      }),
    );
    const old = await writer.publish(c1, { epoch: "old" });
    await sub.waitForIds([old.id]);
    // Bus 1 dropped and made again: a new epoch, so the tail skips to it and reports the hole.
    await withDb(uri, (c) => c.db(db).collection("bus_1").drop());
    writer.busOf(c1).collection.reset();
    const fresh = await writer.publish(c1, { epoch: "new" });
    expect(fresh.epoch).not.toBe(old.epoch);
    await told;
    await sub.waitForIds([fresh.id]);
    const m0 = await writer.publish(c0, { after: "gap" });
    await sub.waitForIds([m0.id]);
    expect(gaps.map((g) => g.channel)).toEqual([c1]);
    expect(gaps[0]?.to.epoch).toBe(fresh.epoch);
  });
});
