/**
 * The writer's bounds (shared/bus/append.ts) with a fake bus: a full queue is refused at once with 503 +
 * Retry-After, a request whose time ran out in the queue is never inserted, and every operation carries
 * the time left as its server-side limit. No I/O; time is a counter.
 */
import type { Collection } from "mongodb";
import { describe, expect, it } from "vitest";
import { type AppendItem, type AppendOptions, BusWriter } from "../../shared/bus/append.ts";
import type { BusDoc, MessageDoc } from "../../shared/bus/doc.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";

/** A bus whose inserts wait until released, recording what they were sent. */
class GatedBus {
  docs: MessageDoc[] = [
    { _id: "s", offset: 0, epoch: "e1", channel: "", event: "", data: "", ts: new Date(0) },
  ];
  inserts: Array<{ docs: MessageDoc[]; options: Record<string, unknown> }> = [];
  reads: Array<Record<string, unknown>> = [];
  #gates: Array<() => void> = [];
  #arrived: Array<() => void> = [];
  gated = true;

  async findOne(_filter: unknown, options: Record<string, unknown>) {
    this.reads.push(options);
    const last = this.docs.at(-1);
    return last ? { offset: last.offset, epoch: last.epoch, ts: last.ts } : null;
  }

  async insertMany(docs: MessageDoc[], options: Record<string, unknown>) {
    this.inserts.push({ docs, options });
    for (const f of this.#arrived.splice(0)) f();
    if (this.gated) await new Promise<void>((r) => this.#gates.push(r));
    this.docs.push(...docs);
  }

  /** Resolves once an insert has been sent. */
  insertSent(): Promise<void> {
    return this.inserts.length > 0 ? Promise.resolve() : new Promise((r) => this.#arrived.push(r));
  }

  release(): void {
    this.gated = false;
    for (const g of this.#gates.splice(0)) g();
  }
}

const item = (n: number): AppendItem => ({ channel: "c", event: "message", data: String(n) });

function writer(bus: GatedBus, clock: { t: number }, overrides: Partial<AppendOptions> = {}) {
  return new BusWriter(async () => bus as unknown as Collection<BusDoc>, {
    writeConcern: { w: "majority", wtimeoutMS: 5000 },
    maxDocsPerInsert: 1000,
    maxAttempts: 10,
    timeoutMs: 2000,
    maxQueuedDocs: 3,
    now: () => clock.t,
    ...overrides,
  });
}

async function rejection(p: Promise<unknown>): Promise<TailcastError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TailcastError);
  return err as TailcastError;
}

describe("bus writer bounds", () => {
  it("refuses a publish at once with 503 + Retry-After when the queue is full", async () => {
    const bus = new GatedBus();
    const clock = { t: 0 };
    const w = writer(bus, clock);
    const inFlight = w.append([item(1)]);
    await bus.insertSent();
    const queued = [w.append([item(2), item(3)]), w.append([item(4)])];
    const err = await rejection(w.append([item(5)]));
    expect(err.code).toBe(ErrorCode.busUnavailable);
    expect(err.status).toBe(503);
    expect(err.retryAfter).toBe(1);
    bus.release();
    const done = await Promise.all([inFlight, ...queued]);
    expect(done.flat().map((a) => a.offset)).toEqual([1, 2, 3, 4]);
    // The queue drained, so the writer takes publishes again.
    expect((await w.append([item(6)]))[0]?.offset).toBe(5);
  });

  it("never inserts a publish whose time ran out while it waited in the queue", async () => {
    const bus = new GatedBus();
    const clock = { t: 0 };
    const w = writer(bus, clock);
    const inFlight = w.append([item(1)]);
    await bus.insertSent();
    const late = w.append([item(2)]);
    clock.t = 2001;
    bus.release();
    await inFlight;
    const err = await rejection(late);
    expect(err.code).toBe(ErrorCode.busUnavailable);
    expect(bus.inserts.flatMap((i) => i.docs.map((d) => d.data))).toEqual(["1"]);
  });

  it("sends the time left as each operation's maxTimeMS and caps the write concern timeout with it", async () => {
    const bus = new GatedBus();
    bus.release();
    const clock = { t: 0 };
    const w = writer(bus, clock, { timeoutMs: 3000 });
    await w.append([item(1)]);
    expect(bus.reads[0]?.maxTimeMS).toBe(3000);
    expect(bus.inserts[0]?.options).toMatchObject({
      maxTimeMS: 3000,
      writeConcern: { w: "majority", wtimeoutMS: 3000 },
    });
    const w2 = writer(bus, clock, { timeoutMs: 60_000 });
    await w2.append([item(2)]);
    expect(bus.inserts[1]?.options).toMatchObject({ maxTimeMS: 60_000, writeConcern: { wtimeoutMS: 5000 } });
  });

  it("sets a dropped bus up again once, then appends in the new epoch", async () => {
    const dropped = new GatedBus();
    dropped.release();
    dropped.docs = [];
    const fresh = new GatedBus();
    fresh.release();
    fresh.docs[0] = { ...(fresh.docs[0] as MessageDoc), epoch: "e2" };
    let current = dropped;
    let resets = 0;
    const w = new BusWriter(async () => current as unknown as Collection<BusDoc>, {
      writeConcern: { w: 1 },
      maxDocsPerInsert: 10,
      maxAttempts: 10,
      timeoutMs: 1000,
      maxQueuedDocs: 10,
      resetBus: () => {
        resets++;
        current = fresh;
      },
    });
    const [appended] = await w.append([item(1)]);
    expect(appended).toMatchObject({ offset: 1, epoch: "e2" });
    expect(resets).toBe(1);
    expect(dropped.inserts).toHaveLength(0);
  });

  it("abandons a database call that never settles, answers append_timeout, and serves the next append", async () => {
    const bus = new GatedBus(); // gated: its first insert never settles until released
    const w = new BusWriter(async () => bus as unknown as Collection<BusDoc>, {
      writeConcern: { w: 1 },
      maxDocsPerInsert: 10,
      maxAttempts: 10,
      timeoutMs: 50, // real time: the bound is a timer, 50 ms plus the server's grace
      maxQueuedDocs: 10,
    });
    const hung = w.append([item(1)]);
    await expect(hung).rejects.toMatchObject({ code: ErrorCode.busUnavailable, reason: "append_timeout" });
    // The writer moved on: the next group is written while the first insert still hangs.
    bus.gated = false;
    const [next] = await w.append([item(2)]);
    expect(next).toMatchObject({ offset: 1 });
    expect(bus.inserts).toHaveLength(2);
    bus.release();
  });
});
