/**
 * The idempotency store over partitioned buses (README "Partitioned buses"): a claim records its
 * message's channel, and an interrupted append is looked for in that channel's bus — also for a claim
 * whose record names another channel than the message now claiming the key. In-memory collections and
 * a manual clock (test/fakes/idempotency.ts), as in idempotency.test.ts.
 */

import type { Collection } from "mongodb";
import { describe, expect, it } from "vitest";
import type { BusDoc } from "../../shared/bus/doc.ts";
import { type Claim, fingerprint, IdempotencyStore } from "../../shared/bus/idempotency.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { FakeKeyedBus, FakeKeys, ManualClock } from "../fakes/idempotency.ts";

const KEY = "pub\u0000k1";
const IN_A = { channel: "a", event: "message", data: "1" };
const IN_B = { channel: "b", event: "message", data: "1" };

function setup() {
  const keys = new FakeKeys();
  const buses = { a: new FakeKeyedBus(), b: new FakeKeyedBus(), zero: new FakeKeyedBus() };
  const looked: Array<string | undefined> = [];
  const clock = new ManualClock();
  const busOf = async (channel: string | undefined): Promise<Collection<BusDoc>> => {
    looked.push(channel);
    if (channel === "a") return buses.a.asCollection();
    if (channel === "b") return buses.b.asCollection();
    return buses.zero.asCollection();
  };
  const store = new IdempotencyStore(keys.asCollection(), busOf, {
    windowSec: 3600,
    pendingTimeoutMs: 30_000,
    waitMs: 10_000,
    clock,
  });
  return { keys, buses, looked, clock, store };
}

type Owned = Extract<Claim, { kind: "owner" }>;

describe("idempotency store over several buses", () => {
  it("records the claimed message's channel, and abandon looks for it in that channel's bus", async () => {
    const { keys, buses, looked, store } = setup();
    const claim = (await store.claim(KEY, fingerprint(IN_B), "b")) as Owned;
    expect(claim).toMatchObject({ kind: "owner", channel: "b" });
    expect(keys.docs.get(KEY)?.ch).toBe("b");
    // The append "failed", but its message did land in bus b: abandon records it instead of freeing the key.
    buses.b.add({ ik: KEY, channel: "b", _id: "mb", offset: 4 });
    await store.abandon(claim);
    expect(looked).toEqual(["b"]);
    expect(keys.docs.get(KEY)).toMatchObject({
      state: "done",
      result: { id: "mb", channel: "b", offset: 4 },
    });
  });

  it("looks for a vanished owner's message in the bus its record names, not the retrying message's", async () => {
    const { keys, buses, looked, clock, store } = setup();
    await store.claim(KEY, fingerprint(IN_A), "a");
    buses.a.add({ ik: KEY, channel: "a", _id: "ma", offset: 9 });
    clock.advance(30_001);
    // The key reused for a message in another bus: the landed message of bus a is found and recorded,
    // so the reuse is refused (422) rather than taking the key over.
    const err = await store.claim(KEY, fingerprint(IN_B), "b").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TailcastError);
    expect((err as TailcastError).code).toBe(ErrorCode.idempotencyKeyReused);
    expect(looked).toEqual(["a"]);
    expect(keys.docs.get(KEY)).toMatchObject({ state: "done", result: { id: "ma", channel: "a" } });
  });

  it("looks in bus 0 for a record written without a channel, and records the new owner's channel on takeover", async () => {
    const { keys, looked, clock, store } = setup();
    await store.claim(KEY, fingerprint(IN_A)); // as before partitioning: no channel recorded
    expect(keys.docs.get(KEY)?.ch).toBeUndefined();
    clock.advance(30_001);
    const taken = (await store.claim(KEY, fingerprint(IN_B), "b")) as Owned;
    expect(taken.kind).toBe("owner");
    expect(looked).toEqual([undefined]);
    expect(keys.docs.get(KEY)).toMatchObject({ state: "pending", owner: taken.token, ch: "b" });
  });
});
