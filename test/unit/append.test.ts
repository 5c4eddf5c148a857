/**
 * The bus writer (shared/bus/append.ts) over a fake capped collection whose failures are the errors
 * the mongodb driver itself builds (test/fakes/driver-errors.ts): lost offset races, partial writes, a
 * write concern that failed, too many lost rounds, an empty bus, and how a group of requests is split
 * into acknowledged and refused. No I/O.
 */
import type { Collection } from "mongodb";
import { describe, expect, it } from "vitest";
import { type AppendItem, BusWriter } from "../../shared/bus/append.ts";
import type { BusDoc, MessageDoc } from "../../shared/bus/doc.ts";
import { hasWriteConcernError, lostRaceAt } from "../../shared/bus/write-errors.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { bulkErrorViaHandleWriteError, type InsertReply, insertManyError } from "../fakes/driver-errors.ts";

const EPOCH = "e1";
const WCE = { code: 64, codeName: "WriteConcernFailed", errmsg: "waiting for replication timed out" };
const dup = (index: number) => ({ index, code: 11000, errmsg: "E11000 duplicate key error: offset" });

type Docs = Array<Pick<BusDoc, "offset" | "epoch"> & Partial<MessageDoc>>;

/**
 * A capped collection as the writer uses it: the newest document, and ordered inserts that stop at the
 * first offset already taken. `script` may answer an insert instead (another writer's insert first, a
 * failed write concern, a network error); `gate` holds inserts until released.
 */
class FakeBus {
  docs: Docs = [{ offset: 0, epoch: EPOCH }];
  inserts: MessageDoc[][] = [];
  script: Array<(docs: MessageDoc[]) => Error | undefined> = [];
  gate: Promise<void> | null = null;

  async findOne() {
    // Natural order is offset order on the real bus (docs/offsets.md): the newest is the highest.
    const last = [...this.docs].sort((x, y) => x.offset - y.offset).at(-1);
    return last ? { offset: last.offset, epoch: last.epoch, ts: new Date() } : null;
  }

  async insertMany(docs: MessageDoc[]) {
    this.inserts.push(docs);
    if (this.gate) await this.gate;
    const step = this.script.shift();
    const scripted = step?.(docs);
    if (scripted) throw scripted;
    const taken = new Set(this.docs.map((d) => d.offset));
    const refused = docs.findIndex((d) => taken.has(d.offset));
    const written = refused === -1 ? docs : docs.slice(0, refused);
    this.docs.push(...written);
    if (refused !== -1) throw insertManyError(docs.length, { n: refused, writeErrors: [dup(refused)] });
    return { acknowledged: true, insertedCount: docs.length, insertedIds: {} };
  }

  /** Another writer appends `n` documents first. */
  otherWriter(n: number): void {
    const head = Math.max(...this.docs.map((d) => d.offset));
    for (let i = 1; i <= n; i++) this.docs.push({ offset: head + i, epoch: EPOCH, channel: "other" });
  }
}

function writer(bus: FakeBus, maxAttempts = 5, maxDocsPerInsert = 500) {
  const asCollection = bus as unknown as Collection<BusDoc>;
  return new BusWriter(async () => asCollection, {
    writeConcern: { w: "majority" },
    maxDocsPerInsert,
    maxAttempts,
    timeoutMs: 10_000,
    maxQueuedDocs: 10_000,
  });
}

const items = (n: number, channel = "a"): AppendItem[] =>
  Array.from({ length: n }, (_, i) => ({ channel, event: "message", data: JSON.stringify(i) }));

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err,
  );
}

describe("write errors, as the driver builds them", () => {
  it("a plain duplicate key is a lost race at the first refused document", () => {
    expect(lostRaceAt(insertManyError(3, { n: 2, writeErrors: [dup(2)] }))).toBe(2);
    expect(hasWriteConcernError(insertManyError(3, { n: 0, writeErrors: [dup(0)] }))).toBe(false);
  });

  it("a duplicate key with a failed write concern is not a lost race, whichever code is on top", () => {
    const reply: InsertReply = { n: 1, writeErrors: [dup(1)], writeConcernError: WCE };
    const viaServer = insertManyError(2, reply);
    expect(viaServer.code).toBe(64);
    const viaHandle = bulkErrorViaHandleWriteError(2, reply);
    expect(viaHandle.code).toBe(11000);
    for (const err of [viaServer, viaHandle]) {
      expect(hasWriteConcernError(err)).toBe(true);
      expect(lostRaceAt(err)).toBeNull();
    }
  });

  it("a failed write concern alone, or another write error, is not a lost race", () => {
    expect(hasWriteConcernError(insertManyError(2, { n: 2, writeConcernError: WCE }))).toBe(true);
    expect(lostRaceAt(insertManyError(2, { n: 2, writeConcernError: WCE }))).toBeNull();
    const other = insertManyError(2, { n: 0, writeErrors: [{ index: 0, code: 2, errmsg: "bad" }] });
    expect(lostRaceAt(other)).toBeNull();
    expect(lostRaceAt(new Error("network"))).toBeNull();
  });
});

describe("BusWriter", () => {
  it("retries the rest of an insert that lost the race part-way, keeping what was written before", async () => {
    const bus = new FakeBus();
    // Another writer takes offset 3 after this one read the newest offset (0).
    bus.script.push(() => {
      bus.docs.push({ offset: 3, epoch: EPOCH, channel: "other" });
      return undefined;
    });
    const out = await writer(bus).append(items(4));
    expect(out.map((r) => r.offset)).toEqual([1, 2, 4, 5]);
    expect(bus.inserts.map((docs) => docs.map((d) => d.offset))).toEqual([
      [1, 2, 3, 4],
      [4, 5],
    ]);
  });

  it("answers 503 after too many rounds lost to other writers, and acknowledges nothing", async () => {
    const bus = new FakeBus();
    for (let i = 0; i < 10; i++) bus.script.push(() => void bus.otherWriter(1));
    const err = await refusal(writer(bus, 3).append(items(2)));
    expect(err).toBeInstanceOf(TailcastError);
    expect((err as TailcastError).code).toBe(ErrorCode.busUnavailable);
    expect(bus.inserts).toHaveLength(3);
  });

  it("answers 503 while the bus is empty or missing", async () => {
    const bus = new FakeBus();
    bus.docs = [];
    const err = await refusal(writer(bus).append(items(1)));
    expect((err as TailcastError).code).toBe(ErrorCode.busUnavailable);
    expect(bus.inserts).toEqual([]);
  });

  it("acknowledges nothing of an insert whose write concern failed, also after a duplicate key", async () => {
    for (const build of [insertManyError, bulkErrorViaHandleWriteError]) {
      const bus = new FakeBus();
      const w = writer(bus);
      let release!: () => void;
      bus.gate = new Promise((r) => {
        release = r;
      });
      const first = w.append(items(1, "first"));
      // Queued while `first` is in flight: written together in the next insert.
      const a = w.append(items(1, "a"));
      const b = w.append(items(1, "b"));
      bus.script.push(() => undefined);
      bus.script.push((docs) => {
        bus.docs.push(docs[0] as MessageDoc); // `a` reached the primary, then…
        bus.otherWriter(1);
        return build(docs.length, { n: 1, writeErrors: [dup(1)], writeConcernError: WCE });
      });
      bus.gate = null;
      release();
      expect((await first).map((r) => r.offset)).toEqual([1]);
      const [ra, rb] = await Promise.allSettled([a, b]);
      expect(ra.status, build.name).toBe("rejected");
      expect(rb.status, build.name).toBe("rejected");
    }
  });

  it("splits a group after a partial write: requests wholly written resolve, the rest are refused", async () => {
    const bus = new FakeBus();
    const w = writer(bus);
    let release!: () => void;
    bus.gate = new Promise((r) => {
      release = r;
    });
    const first = w.append(items(1, "first"));
    // 100 + 1 + 2 documents: two chunks of at most 100 (shared/bus/append.ts).
    const a = w.append(items(100, "a"));
    const b = w.append(items(1, "b"));
    const c = w.append(items(2, "c"));
    bus.script.push(
      () => undefined,
      () => undefined,
    );
    // The second chunk (b, c): b lands, then c loses its offset to another writer; the re-read fails.
    bus.script.push((docs) => {
      bus.docs.push(docs[0] as MessageDoc);
      bus.otherWriter(1);
      return insertManyError(docs.length, { n: 1, writeErrors: [dup(1)] });
    });
    bus.script.push(() => insertManyError(2, { n: 0, writeErrors: [{ index: 0, code: 2, errmsg: "boom" }] }));
    bus.gate = null;
    release();
    await first;
    const [ra, rb, rc] = await Promise.allSettled([a, b, c]);
    expect(ra.status === "fulfilled" && ra.value.map((r) => r.offset)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 2),
    );
    expect(rb.status === "fulfilled" && rb.value.map((r) => r.offset)).toEqual([102]);
    expect(rc.status).toBe("rejected");
  });

  it("idle() resolves at once with nothing queued, else only after every queued group is answered", async () => {
    const bus = new FakeBus();
    const w = writer(bus);
    await w.idle();
    let release!: () => void;
    bus.gate = new Promise((r) => {
      release = r;
    });
    const settled: string[] = [];
    const first = w.append(items(1, "first")).then(() => settled.push("first"));
    // Queued behind the insert in flight: a group of its own, written once the first is answered.
    const second = w.append(items(2, "second")).then(() => settled.push("second"));
    const idle = w.idle().then(() => settled.push("idle"));
    await Promise.resolve();
    expect(settled).toEqual([]);
    bus.gate = null;
    release();
    await Promise.all([first, second, idle]);
    expect(settled).toEqual(["first", "second", "idle"]);
    expect(bus.inserts.map((docs) => docs.map((d) => d.channel))).toEqual([["first"], ["second", "second"]]);
  });
});

describe("BusWriter observer", () => {
  function observed(bus: FakeBus, maxAttempts = 5) {
    const seen = { grouped: [] as number[], appended: 0, conflicts: 0, retries: [] as string[] };
    const w = new BusWriter(async () => bus as unknown as Collection<BusDoc>, {
      writeConcern: { w: "majority" },
      maxDocsPerInsert: 500,
      maxAttempts,
      timeoutMs: 10_000,
      maxQueuedDocs: 10_000,
      observer: {
        grouped: (n) => seen.grouped.push(n),
        appended: (n) => {
          seen.appended += n;
        },
        conflicted: () => {
          seen.conflicts++;
        },
        retried: (reason) => seen.retries.push(reason),
      },
    });
    return { w, seen };
  }

  it("reports groups, acknowledged messages, and a lost race with its retry", async () => {
    const bus = new FakeBus();
    bus.script.push(() => {
      bus.docs.push({ offset: 3, epoch: EPOCH, channel: "other" });
      return undefined;
    });
    const { w, seen } = observed(bus);
    await w.append(items(4));
    expect(seen).toEqual({ grouped: [4], appended: 4, conflicts: 1, retries: ["offset_conflict"] });
  });

  it("reports the messages of requests that arrived during an insert as one group", async () => {
    const bus = new FakeBus();
    const { w, seen } = observed(bus);
    let release = () => {};
    bus.gate = new Promise((r) => {
      release = r;
    });
    const first = w.append(items(1));
    const rest = [w.append(items(2)), w.append(items(3))];
    bus.gate = null;
    release();
    await Promise.all([first, ...rest]);
    expect(seen.grouped).toEqual([1, 5]);
    expect(seen.appended).toBe(6);
  });

  it("does not report a retry after the last round it gives up on", async () => {
    const bus = new FakeBus();
    for (let i = 0; i < 10; i++) bus.script.push(() => void bus.otherWriter(1));
    const { w, seen } = observed(bus, 3);
    const err = await refusal(w.append(items(2)));
    expect((err as TailcastError).reason).toBe("offset_contention");
    expect(seen).toEqual({
      grouped: [2],
      appended: 0,
      conflicts: 3,
      retries: ["offset_conflict", "offset_conflict"],
    });
  });
});
