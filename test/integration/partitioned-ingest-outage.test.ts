/**
 * One deployment of a partitioned bus set goes down (README "Partitioned buses"): a real ingest with two
 * buses, bus 1 on its own deployment (reached through a proxy that can cut it). A batch over both buses
 * is written on bus 0 and reported failed on bus 1; once the deployment is back, the retry with the same
 * keys writes bus 1's message and answers bus 0's original receipt, each message stored once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { busCollectionName, busIndexOf } from "../../shared/bus/partition.ts";
import { type Published, post, startFunctions, stopAll, testDbName, withDb } from "../helpers/stack.ts";
import { type StallProxy, startStallProxy } from "../helpers/stall-proxy.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
let ingest: Component;
let proxy: StallProxy;

const channelIn = (bus: number) => {
  for (let i = 0; ; i++) if (busIndexOf(`order-${i}`, 2) === bus) return `order-${i}`;
};
const [ch0, ch1] = [channelIn(0), channelIn(1)];

interface Receipt {
  id: string;
  channel: string;
  offset: number;
  epoch: string;
}

beforeAll(async () => {
  proxy = await startStallProxy(uri);
  ingest = await startFunctions({
    db,
    env: {
      TAILCAST_BUSES: "2",
      TAILCAST_BUS_URIS: `${uri},${proxy.uri}`,
      TAILCAST_APPEND_TIMEOUT_MS: "1000",
    },
  });
});
afterAll(async () => {
  await stopAll([ingest]);
  await proxy?.close();
});

const messages = [ch0, ch1].map((channel, i) => ({ channel, data: { i }, idempotencyKey: `outage-${i}` }));
const publishBatch = () => post(`${ingest.url}/v1/messages`, { messages });

/** The client's side of 409 `idempotency_in_progress`: wait its Retry-After, send again. */
async function retryWhileInProgress(deadlineMs: number): Promise<Published> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const res = await publishBatch();
    if (res.status !== 409 || Date.now() > until) return res;
    await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? "1") * 1000));
  }
}

describe("a partitioned bus set with one deployment down", () => {
  it("writes the live bus, reports the other, and the retry with the same keys completes without duplicates", async () => {
    // Both buses set up and answering.
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);

    proxy.cut();
    const partial = await publishBatch();
    expect(partial.status).toBe(503);
    expect(partial.headers.get("retry-after")).toBe("1");
    expect((partial.body.error as { code: string }).code).toBe("bus_unavailable");
    const [written, failed] = partial.body.results as [Receipt, unknown];
    expect(written).toMatchObject({ channel: ch0, offset: 1 });
    expect(failed).toEqual({ channel: ch1, error: { code: "bus_unavailable", message: expect.any(String) } });
    // The acknowledged message is in bus 0 and readable; the instance stays ready: bus 0 still answers,
    // and every instance shares bus 1's outage (taking them out of rotation would stop bus 0 too).
    const history = await fetch(`${ingest.url}/v1/channels/${ch0}/messages`);
    expect(((await history.json()) as { messages: Receipt[] }).messages.map((m) => m.id)).toEqual([
      written.id,
    ]);
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);

    proxy.heal();
    // Bus 1's claim could not be released while its deployment was down (its message might have
    // landed), so the retry may first hear 409 until the claim is old enough to be looked at again.
    const retry = await retryWhileInProgress(60_000);
    expect(retry.status).toBe(201);
    const [again, now] = retry.body.results as [Receipt, Receipt];
    expect(again).toEqual(written);
    expect(now).toMatchObject({ channel: ch1, offset: 1 });
    for (const [bus, receipt] of [
      [0, again],
      [1, now],
    ] as const) {
      const docs = await withDb(uri, (c) =>
        c
          .db(db)
          .collection(busCollectionName("bus", bus))
          .find({ kind: { $exists: false } })
          .toArray(),
      );
      expect(docs.map((d) => d._id)).toEqual([receipt.id]);
    }
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);
  }, 90_000);
});
