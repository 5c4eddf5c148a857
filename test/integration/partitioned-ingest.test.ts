/**
 * Ingest over three buses (README "Partitioned buses"), a real process against the dev database: each
 * message lands in its channel's bus (busIndexOf) with that bus's offsets and epoch, history reads the
 * channel's bus, and a batch whose buses partly fail reports every message's result — and its retry
 * with the same keys writes only what was missing.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { busCollectionName, busIndexOf } from "../../shared/bus/partition.ts";
import { parseExposition, sampleSum } from "../helpers/metrics-text.ts";
import { post, publish, startFunctions, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const BUSES = 3;
const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
let ingest: Component;

/** Two channel names per bus, found by the same hash the process uses. */
const channels: string[][] = Array.from({ length: BUSES }, () => []);
for (let i = 0; channels.some((c) => c.length < 2); i++) {
  const name = `room-${i}`;
  const list = channels[busIndexOf(name, BUSES)] as string[];
  if (list.length < 2) list.push(name);
}
const ch = (bus: number, n = 0) => (channels[bus] as string[])[n] as string;
const collectionOf = (bus: number) => busCollectionName("bus", bus);

interface Receipt {
  id: string;
  channel: string;
  offset: number;
  epoch: string;
}

beforeAll(async () => {
  ingest = await startFunctions({
    db,
    env: {
      TAILCAST_BUSES: String(BUSES),
      // Bus 1 through a client of its own (another URI of the same server): the per-deployment path.
      TAILCAST_BUS_URIS: [uri, `${uri}${uri.includes("?") ? "&" : "?"}appName=bus1`, uri].join(","),
    },
  });
});
afterAll(() => stopAll([ingest]));

const stored = (bus: number, filter: Record<string, unknown> = {}) =>
  withDb(uri, (c) =>
    c
      .db(db)
      .collection(collectionOf(bus))
      .find({ kind: { $exists: false }, ...filter }, { sort: { offset: 1 } })
      .toArray(),
  );

const epochOf = async (bus: number) =>
  withDb(
    uri,
    async (c) => (await c.db(db).collection(collectionOf(bus)).findOne({ kind: "sentinel" }))?.epoch,
  );

const history = async (channel: string, query = "") => {
  const res = await fetch(`${ingest.url}/v1/channels/${channel}/messages${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { messages: Array<Receipt & { data: unknown }>; recovered: boolean };
};

const metric = async (name: string, labels: Record<string, string>) =>
  sampleSum(parseExposition(await (await fetch(`${ingest.url}/metrics`)).text()), name, labels) ?? 0;

describe("ingest over partitioned buses", () => {
  it("writes each message to its channel's bus, with that bus's offsets and epoch", async () => {
    const receipts: Receipt[][] = [[], [], []];
    for (let round = 0; round < 2; round++) {
      for (let bus = 0; bus < BUSES; bus++) {
        const res = await publish(ingest, ch(bus, round), { round, bus });
        expect(res.status).toBe(201);
        receipts[bus]?.push(res.body as unknown as Receipt);
      }
    }
    const epochs = await Promise.all([0, 1, 2].map(epochOf));
    expect(new Set(epochs).size).toBe(BUSES);
    for (let bus = 0; bus < BUSES; bus++) {
      // Offsets are the bus's own: each bus starts after its sentinel (0), whatever the others hold.
      expect(receipts[bus]?.map((r) => [r.offset, r.epoch])).toEqual([
        [1, epochs[bus]],
        [2, epochs[bus]],
      ]);
      const docs = await stored(bus);
      expect(docs.map((d) => [d._id, d.channel, d.offset])).toEqual(
        receipts[bus]?.map((r) => [r.id, r.channel, r.offset]),
      );
      expect(await metric("tailcast_messages_appended_total", { bus: String(bus) })).toBe(2);
    }
  });

  it("writes a batch spanning buses per bus and answers every receipt in request order", async () => {
    const order = [ch(2), ch(0), ch(1), ch(0, 1), ch(2, 1)];
    const res = await post(`${ingest.url}/v1/messages`, {
      messages: order.map((channel, i) => ({ channel, data: { i } })),
    });
    expect(res.status).toBe(201);
    const results = res.body.results as Receipt[];
    expect(results.map((r) => r.channel)).toEqual(order);
    for (const r of results) {
      const bus = busIndexOf(r.channel, BUSES);
      const [doc] = await stored(bus, { _id: r.id });
      expect(doc).toMatchObject({ channel: r.channel, offset: r.offset, epoch: r.epoch });
    }
    // Within a bus, the batch's messages keep their order and take consecutive offsets.
    expect([results[1]?.offset, results[3]?.offset]).toEqual([3, 4]);
    expect([results[0]?.offset, results[4]?.offset]).toEqual([3, 4]);
  });

  it("reads a channel's history from its bus, and `since` with that bus's epoch", async () => {
    const page = await history(ch(1));
    expect(page.messages.map((m) => m.channel)).toEqual([ch(1), ch(1)]);
    const first = page.messages[0] as Receipt;
    expect(first.epoch).toBe(await epochOf(1));
    const after = await history(ch(1), `?since=${first.offset}&epoch=${first.epoch}`);
    expect(after.recovered).toBe(true);
    expect(after.messages.map((m) => m.id)).toEqual([page.messages[1]?.id]);
    // Another bus's epoch is not this channel's: the client is told it cannot recover from it.
    const foreign = await history(ch(1), `?since=1&epoch=${await epochOf(2)}`);
    expect(foreign.recovered).toBe(false);
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);
  });

  it("reports a batch written in part, and its retry with the same keys writes only what was missing", async () => {
    // Bus 1 made unusable: replaced by a collection that is not capped, which tailcast never writes to.
    await withDb(uri, async (c) => {
      await c.db(db).collection(collectionOf(1)).drop();
      await c.db(db).createCollection(collectionOf(1));
    });
    const messages = [ch(0), ch(1), ch(2), ch(1, 1)].map((channel, i) => ({
      channel,
      data: { part: i },
      idempotencyKey: `partial-${i}`,
    }));
    const first = await post(`${ingest.url}/v1/messages`, { messages });
    expect(first.status).toBe(500);
    expect((first.body.error as { code: string }).code).toBe("bus_not_capped");
    const results = first.body.results as Array<Receipt | { channel: string; error: { code: string } }>;
    expect(results).toHaveLength(4);
    const [r0, r1, r2, r3] = results;
    expect(r0).toMatchObject({ channel: ch(0), epoch: await epochOf(0) });
    expect(r2).toMatchObject({ channel: ch(2), epoch: await epochOf(2) });
    expect(r1).toEqual({ channel: ch(1), error: { code: "bus_not_capped", message: expect.any(String) } });
    expect(r3).toEqual({ channel: ch(1, 1), error: { code: "bus_not_capped", message: expect.any(String) } });
    // The acknowledged ones are in their buses and readable; the instance stays ready (buses 0 and 2 answer).
    expect((await history(ch(0))).messages.at(-1)?.id).toBe((r0 as Receipt).id);
    expect((await history(ch(2))).messages.at(-1)?.id).toBe((r2 as Receipt).id);
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);

    // The operator drops the stray collection; the retry sets bus 1 up again and completes the batch.
    await withDb(uri, (c) => c.db(db).collection(collectionOf(1)).drop());
    const retry = await post(`${ingest.url}/v1/messages`, { messages });
    expect(retry.status).toBe(201);
    const done = retry.body.results as Receipt[];
    expect(done[0]).toEqual(r0);
    expect(done[2]).toEqual(r2);
    const epoch1 = await epochOf(1);
    expect([done[1], done[3]]).toEqual([
      { id: expect.any(String), channel: ch(1), offset: 1, epoch: epoch1 },
      { id: expect.any(String), channel: ch(1, 1), offset: 2, epoch: epoch1 },
    ]);
    // Each keyed message is stored exactly once, in its channel's bus.
    for (const [i, m] of messages.entries()) {
      const bus = busIndexOf(m.channel, BUSES);
      const docs = await stored(bus, { ik: { $regex: `partial-${i}$` } });
      expect(docs.map((d) => d._id)).toEqual([done[i]?.id]);
    }
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);
    // And again: every receipt replayed, nothing written.
    const again = await post(`${ingest.url}/v1/messages`, { messages });
    expect(again.status).toBe(201);
    expect(again.body.results).toEqual(done);
  });
});
