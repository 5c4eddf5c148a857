/**
 * The idempotency store (shared/bus/idempotency.ts) with in-memory collections and a manual clock: every
 * timing path — waiting for a concurrent owner, 409 after the wait, takeover of a vanished owner, the
 * expired window, abandon and a completion that comes after a takeover — without I/O or real waiting.
 */
import { describe, expect, it } from "vitest";
import {
  type Claim,
  fingerprint,
  type IdempotencyOptions,
  IdempotencyStore,
} from "../../shared/bus/idempotency.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { FakeKeyedBus, FakeKeys, ManualClock } from "../fakes/idempotency.ts";

const KEY = "pub\u0000k1";
/** The message the tests publish under KEY, as the bus stores it (FakeKeyedBus defaults). */
const MESSAGE = { channel: "c", event: "message", data: "1" };
const FP = fingerprint(MESSAGE);

function setup(overrides: Partial<IdempotencyOptions> = {}) {
  const keys = new FakeKeys();
  const bus = new FakeKeyedBus();
  const clock = new ManualClock();
  const options: IdempotencyOptions = {
    windowSec: 3600,
    pendingTimeoutMs: 30_000,
    waitMs: 10_000,
    clock,
    ...overrides,
  };
  const store = () => new IdempotencyStore(keys.asCollection(), bus.asCollection(), options);
  return { keys, bus, clock, store, options };
}

type Owned = Extract<Claim, { kind: "owner" }>;

async function owned(p: Promise<Claim>): Promise<Owned> {
  const c = await p;
  expect(c.kind).toBe("owner");
  return c as Owned;
}

async function rejection(p: Promise<unknown>): Promise<TailcastError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TailcastError);
  return err as TailcastError;
}

const receipt = (id: string, offset: number) => ({ id, channel: "c", offset, epoch: "e1" });

describe("idempotency store", () => {
  it("gives the first claimant the key and answers a later one with the recorded receipt", async () => {
    const { store } = setup();
    const first = await owned(store().claim(KEY, FP));
    await store().complete(first, receipt("m1", 1));
    expect(await store().claim(KEY, FP)).toEqual({ kind: "done", receipt: receipt("m1", 1) });
  });

  it("waits for a concurrent owner and returns its receipt once it completes", async () => {
    const { keys, clock, store } = setup();
    const first = await owned(store().claim(KEY, FP));
    let polls = 0;
    keys.before = async (op) => {
      if (op === "findOne" && ++polls === 3) await store().complete(first, receipt("m1", 1));
    };
    expect(await store().claim(KEY, FP)).toEqual({ kind: "done", receipt: receipt("m1", 1) });
    expect(clock.sleeps).toBe(2);
  });

  it("answers 409 idempotency_in_progress once the wait is over and the owner is still writing", async () => {
    const { keys, clock, store, options } = setup();
    await owned(store().claim(KEY, FP));
    const start = clock.t;
    const err = await rejection(store().claim(KEY, FP));
    expect(err.code).toBe(ErrorCode.idempotencyInProgress);
    expect(err.status).toBe(409);
    expect(err.retryAfter).toBeGreaterThan(0);
    expect(clock.t - start).toBeGreaterThan(options.waitMs);
    expect(clock.t - start).toBeLessThan(options.pendingTimeoutMs);
    expect(keys.docs.get(KEY)?.state).toBe("pending");
  });

  it("refuses the key for a different message (422)", async () => {
    const { store } = setup();
    const first = await owned(store().claim(KEY, FP));
    await store().complete(first, receipt("m1", 1));
    const err = await rejection(store().claim(KEY, "fp-other"));
    expect(err.code).toBe(ErrorCode.idempotencyKeyReused);
  });

  it("takes over a claim whose owner vanished, after the pending timeout, when nothing landed", async () => {
    const { keys, clock, store, options } = setup();
    const first = await owned(store().claim(KEY, FP));
    clock.advance(options.pendingTimeoutMs + 1);
    const second = await owned(store().claim(KEY, FP));
    expect(second.token).not.toBe(first.token);
    expect(keys.docs.get(KEY)).toMatchObject({
      owner: second.token,
      state: "pending",
      at: new Date(clock.t),
    });
  });

  it("answers with the message a vanished owner did append, instead of taking over", async () => {
    const { keys, bus, clock, store, options } = setup();
    await owned(store().claim(KEY, FP));
    const landed = bus.add({ ik: KEY, _id: "m7", offset: 7 });
    clock.advance(options.pendingTimeoutMs + 1);
    expect(await store().claim(KEY, FP)).toEqual({ kind: "done", receipt: receipt(landed._id, 7) });
    expect(keys.docs.get(KEY)).toMatchObject({ state: "done", result: receipt("m7", 7) });
  });

  it("lets a completed key be used again once the window is over", async () => {
    const { clock, store, options } = setup({ windowSec: 60 });
    const first = await owned(store().claim(KEY, FP));
    await store().complete(first, receipt("m1", 1));
    clock.advance(options.windowSec * 1000 + 1);
    await owned(store().claim(KEY, "fp-new"));
  });

  it("abandon frees the key when the append did not land, so a retry owns it at once", async () => {
    const { keys, clock, store } = setup();
    const first = await owned(store().claim(KEY, FP));
    await store().abandon(first);
    expect(keys.docs.has(KEY)).toBe(false);
    const before = clock.sleeps;
    await owned(store().claim(KEY, FP));
    expect(clock.sleeps).toBe(before);
  });

  it("abandon records the receipt when the append landed although its reply was lost", async () => {
    const { keys, bus, store } = setup();
    const first = await owned(store().claim(KEY, FP));
    bus.add({ ik: KEY, _id: "m3", offset: 3 });
    await store().abandon(first);
    expect(keys.docs.get(KEY)).toMatchObject({ state: "done", result: receipt("m3", 3) });
    expect(await store().claim(KEY, FP)).toEqual({ kind: "done", receipt: receipt("m3", 3) });
  });

  it("abandon leaves the claim pending when the database does not answer", async () => {
    const { keys, store } = setup();
    const first = await owned(store().claim(KEY, FP));
    keys.before = () => {
      throw new Error("unreachable");
    };
    await store().abandon(first);
    keys.before = () => {};
    expect(keys.docs.get(KEY)).toMatchObject({ state: "pending", owner: first.token });
  });

  it("does not take another message carrying the key for the abandoned claim's (the fingerprint differs)", async () => {
    const { keys, bus, clock, store, options } = setup({ windowSec: 60, pendingTimeoutMs: 120_000 });
    // An earlier message under the same key, from a window that is over, is still in the bus.
    bus.add({ ik: KEY, _id: "old", offset: 1, data: '"earlier message"' });
    const first = await owned(store().claim(KEY, FP));
    await store().abandon(first);
    expect(keys.docs.has(KEY)).toBe(false);
    const second = await owned(store().claim(KEY, FP));
    clock.advance(options.pendingTimeoutMs + 1);
    const third = await owned(store().claim(KEY, FP));
    expect(third.token).not.toBe(second.token);
    // The same content did land: that one is the receipt.
    bus.add({ ik: KEY, _id: "mine", offset: 2 });
    await store().abandon(third);
    expect(keys.docs.get(KEY)).toMatchObject({ state: "done", result: receipt("mine", 2) });
  });

  it("never takes over a pending claim because the window is over: only after the pending timeout, and after looking", async () => {
    // A window shorter than the pending timeout: the owner may still be appending when it ends.
    const { keys, bus, clock, store, options } = setup({
      windowSec: 1,
      pendingTimeoutMs: 30_000,
      waitMs: 5000,
    });
    const first = await owned(store().claim(KEY, FP));
    clock.advance(options.windowSec * 1000 + 1);
    const err = await rejection(store().claim(KEY, FP));
    expect(err.code).toBe(ErrorCode.idempotencyInProgress);
    expect(keys.docs.get(KEY)).toMatchObject({ owner: first.token, state: "pending" });
    // The owner's append did land; past the pending timeout the retry finds it instead of appending.
    bus.add({ ik: KEY, _id: "m5", offset: 5 });
    clock.advance(options.pendingTimeoutMs);
    expect(await store().claim(KEY, FP)).toEqual({ kind: "done", receipt: receipt("m5", 5) });
  });

  it("a completion that comes after a takeover does not overwrite the new owner's claim", async () => {
    const { keys, clock, store, options } = setup();
    const first = await owned(store().claim(KEY, FP));
    clock.advance(options.pendingTimeoutMs + 1);
    const second = await owned(store().claim(KEY, FP));
    expect(await store().complete(first, receipt("late", 9))).toBe(false);
    expect(keys.docs.get(KEY)).toMatchObject({ owner: second.token, state: "pending" });
    expect(keys.docs.get(KEY)?.result).toBeUndefined();
    await store().complete(second, receipt("m10", 10));
    expect(await store().claim(KEY, FP)).toEqual({ kind: "done", receipt: receipt("m10", 10) });
  });
});
