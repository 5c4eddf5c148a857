/**
 * G7 against a slow owner: instance A claims a key and stalls before its insert (a GC pause, a full
 * queue); a retry on instance B waits, then takes the claim over once it is older than the pending
 * timeout and stores the message. When A wakes up, its append time is over: it must not insert, and its
 * publish fails clearly. Exactly one message is stored and every later answer carries B's receipt.
 *
 * In-process instances (each with its own MongoClient, writer and store, on the real database) so the
 * stall is placed exactly between the claim and the insert.
 */
import type { Collection } from "mongodb";
import { afterAll, describe, expect, inject, it } from "vitest";
import { type PublishDeps, publishMessages } from "../../functions/publish.ts";
import { BusWriter } from "../../shared/bus/append.ts";
import { ensureBus } from "../../shared/bus/collection.ts";
import type { BusDoc } from "../../shared/bus/doc.ts";
import { ensureIdempotencyStore, IdempotencyStore } from "../../shared/bus/idempotency.ts";
import { serverClock } from "../../shared/bus/server-clock.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { createMongo, type MongoHandle } from "../../shared/mongo.ts";
import { testDbName, withDb } from "../helpers/stack.ts";

const dbName = testDbName(import.meta.url);
const uri = inject("mongodbUri");
const handles: MongoHandle[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await withDb(uri, (c) => c.db(dbName).dropDatabase());
});

interface Instance {
  deps: PublishDeps;
}

async function instance(opts: {
  appendTimeoutMs: number;
  pendingTimeoutMs: number;
  /** Runs before every insert round: a stall placed between the claim and the insert. */
  beforeWrite?: () => Promise<void>;
}): Promise<Instance> {
  const mongo = createMongo(uri, dbName, "idempotency-takeover-test");
  handles.push(mongo);
  const db = await mongo.db();
  const bus = await ensureBus(db, { collection: "bus", sizeBytes: 1024 * 1024, maxDocs: 1000 });
  const keys = await ensureIdempotencyStore(db, "bus", 3600);
  const store = new IdempotencyStore(keys, bus, {
    windowSec: 3600,
    pendingTimeoutMs: opts.pendingTimeoutMs,
    waitMs: 60_000,
    clock: serverClock(() => mongo.db()),
  });
  const writer = new BusWriter(
    async (): Promise<Collection<BusDoc>> => {
      await opts.beforeWrite?.();
      return bus;
    },
    {
      writeConcern: { w: 1, wtimeoutMS: 5000 },
      maxDocsPerInsert: 100,
      maxAttempts: 100,
      timeoutMs: opts.appendTimeoutMs,
      maxQueuedDocs: 1000,
    },
  );
  return { deps: { writer: async () => writer, idempotency: async () => store } };
}

const message = { channel: "slow", event: "order", data: '{"n":1}', idempotencyKey: "k-slow-1" };

describe("idempotent publish with a slow owner (G7)", () => {
  it("stores one message: the retry takes over, the stalled owner does not insert and fails clearly", async () => {
    let ownerStalled!: () => void;
    const stalled = new Promise<void>((r) => {
      ownerStalled = r;
    });
    let wake!: () => void;
    const woken = new Promise<void>((r) => {
      wake = r;
    });
    const a = await instance({
      appendTimeoutMs: 200,
      pendingTimeoutMs: 1500,
      beforeWrite: async () => {
        ownerStalled();
        await woken;
      },
    });
    const b = await instance({ appendTimeoutMs: 200, pendingTimeoutMs: 1500 });

    const owner = publishMessages(a.deps, "pub", [message]).then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    await stalled;
    const retry = await publishMessages(b.deps, "pub", [message]);
    expect(retry.replayed).toEqual([false]);
    wake();
    const late = await owner;
    expect(late.ok).toBe(false);
    const err = late.ok ? undefined : late.e;
    expect(err).toBeInstanceOf(TailcastError);
    expect((err as TailcastError).code).toBe(ErrorCode.busUnavailable);

    const stored = await withDb(uri, (c) =>
      c.db(dbName).collection("bus").find({ channel: "slow" }).toArray(),
    );
    expect(stored.map((d) => d._id)).toEqual([retry.receipts[0]?.id]);
    // Retrying the failed publish on A returns the one stored message's receipt.
    const again = await publishMessages(a.deps, "pub", [message]);
    expect(again).toEqual({ receipts: retry.receipts, replayed: [true] });
  });
});
