/**
 * Pins what the dev FerretDB patch changes (infra/devdb/ferretdb/README.md), so that a FerretDB upgrade or
 * a patch edit that loses it fails here rather than silently making every tail poll scan the bus again.
 * Runs only on the patched FerretDB the project builds; on real MongoDB (MONGODB_URI), a mongod or a
 * TAILCAST_FERRETDB_BIN binary it is skipped with the reason printed (tailcast keeps its workarounds there).
 */
import type { Collection, Db, Document } from "mongodb";
import { afterAll, describe, expect, inject, it } from "vitest";
import { rawTail } from "../../infra/devdb/ferretdb/raw-tail.ts";
import { startFerretDB } from "../../infra/devdb/launcher.ts";
import { cpuSeconds } from "../../infra/devdb/process-cpu.ts";
import { testDbName, withDb } from "../helpers/stack.ts";

const NOT_PATCHED: Record<string, string> = {
  external: "MONGODB_URI is set (a real MongoDB)",
  mongod: "the database is a mongod",
  ferretdb: "TAILCAST_FERRETDB_BIN runs a FerretDB binary that is not the project's patched build",
};
const skipReason = inject("patchedFerretDB") ? undefined : (NOT_PATCHED[inject("databaseKind")] ?? "unknown");
if (skipReason) console.warn(`[ferretdb-patch] skipped: ${skipReason}`);

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
});

const busDoc = (offset: number) => ({
  offset,
  epoch: "patch-test",
  channel: `c${offset % 10}`,
  kind: "message",
  ts: new Date(),
  data: "x".repeat(100),
});

async function cappedBus(db: Db, name: string, docs: number): Promise<Collection> {
  await db.createCollection(name, { capped: true, size: 256 * 1024 * 1024, max: 100_000 });
  const bus = db.collection(name);
  for (let i = 0; i < docs; i += 1000) {
    await bus.insertMany(Array.from({ length: Math.min(1000, docs - i) }, (_, k) => busDoc(i + k)));
  }
  return bus;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(skipReason !== undefined)("patched dev FerretDB", () => {
  const dbName = testDbName(import.meta.url);

  it("a tailable awaitData cursor with a short maxTimeMS returns every document of a stream, once, in order", async () => {
    await withDb(inject("mongodbUri"), async (client) => {
      const db = client.db(dbName);
      const bus = await cappedBus(db, "stream", 1000);
      const last = 1299;
      const seen: number[] = [];
      // Replies after the last insert: the first one that starts after it must contain it, so waiting for
      // many more bounds the wait without a timer if a batch was dropped (the unpatched server's deadline
      // could fire during the re-query after a read and return an empty batch past those documents).
      let repliesAfterLast = -1;
      let finish = () => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const reader = rawTail(db, {
        collection: "stream",
        from: 999,
        awaitMs: 20,
        batchSize: 1000,
        onBatch(docs: Document[]) {
          for (const d of docs) seen.push(d.offset as number);
          if (repliesAfterLast >= 0) repliesAfterLast++;
          if (seen.at(-1) === last || repliesAfterLast >= 25) finish();
        },
      });
      cleanup.push(() => reader.stop());
      for (let offset = 1000; offset <= last; offset++) await bus.insertOne(busDoc(offset));
      repliesAfterLast = 0;
      await Promise.race([finished, reader.ended]);
      await reader.stop();
      // No refill, no catch-up, no re-open (raw-tail.ts): what the cursor returned is all there is.
      expect(seen).toEqual(range(999, last));
    });
  });

  it("reads the newest document by {$natural: -1} with its limit pushed down", async () => {
    await withDb(inject("mongodbUri"), async (client) => {
      const bus = await cappedBus(client.db(dbName), "newest", 3000);
      const find = { find: "newest", filter: {}, sort: { $natural: -1 }, limit: 1 };
      const explained = await client.db(dbName).command({ explain: find });
      expect(explained).toMatchObject({ sortPushdown: true, limitPushdown: true });
      expect(await bus.find({}).sort({ $natural: -1 }).limit(1).toArray()).toMatchObject([{ offset: 2999 }]);
    });
  });

  it("an idle awaitData cursor costs the server as much CPU over 20,000 documents as over 10", async () => {
    // FerretDB reports no count of the records a poll reads, so this compares CPU time: the same idle
    // window with one awaitData cursor polling, over a small and a large capped collection, in a server of
    // its own (the run's shared one does capped cleanup over every test file's bus) with cleanup off.
    // Unpatched, every poll re-reads the whole collection: the large window cost 4.6x the small one here
    // (one cursor saturates about one core). Patched, a poll reads only new records: 1.04-1.10x in three
    // runs under a load average of 6. Only the ratio is asserted, about 2x from either; no duration is.
    const server = await startFerretDB({ log: () => {}, cappedCleanupInterval: "1h" });
    cleanup.push(() => server.stop());
    expect(server.patchedFerretDB).toBe(true);
    const pid = server.pid as number;
    const [small, large] = await withDb(server.uri, async (client) => {
      const db = client.db("idle");
      return [await idleCpuSeconds(db, pid, "small", 10), await idleCpuSeconds(db, pid, "large", 20_000)];
    });
    expect(small).toBeGreaterThan(0);
    expect(large / small).toBeLessThan(2);
  });

  // Patches 0004–0006 (the write path the presence writer uses).
  it("serves an _id filter from the _id index, completes 150 matched updateOne in one command, and deletes past SQLite's 32,766 variables", async () => {
    await withDb(inject("mongodbUri"), async (client) => {
      const docs = client.db(dbName).collection<{ _id: string; n: number }>("writes");
      const count = 33_000;
      for (let i = 0; i < count; i += 5000) {
        await docs.insertMany(
          Array.from({ length: Math.min(5000, count - i) }, (_, k) => ({ _id: `doc-${i + k}`, n: 0 })),
        );
      }
      const explained = await client
        .db(dbName)
        .command({ explain: { find: "writes", filter: { _id: "doc-7" } } });
      expect(JSON.stringify(explained.queryPlanner)).toMatch(/USING INDEX/);
      // Unpatched, each matched updateOne held one of the 100 pooled SQLite connections until the
      // command ended: the 100th never got one, and the command (and the database) hung.
      const updated = await docs.bulkWrite(
        Array.from({ length: 150 }, (_, i) => ({
          updateOne: { filter: { _id: `doc-${i}` }, update: { $set: { n: 1 } } },
        })),
        { ordered: false, maxTimeMS: 30_000 },
      );
      expect(updated.matchedCount).toBe(150);
      expect(await docs.countDocuments({ n: 1 })).toBe(150);
      expect((await docs.deleteMany({})).deletedCount).toBe(count);
      expect(await docs.countDocuments({})).toBe(0);
    });
  }, 120_000);
});

/** CPU seconds the server spends in a fixed idle window while one awaitData cursor polls `docs` documents. */
async function idleCpuSeconds(db: Db, pid: number, name: string, docs: number): Promise<number> {
  await cappedBus(db, name, docs);
  let replies = 0;
  let polling = () => {};
  const steady = new Promise<void>((resolve) => {
    polling = resolve;
  });
  const cursor = rawTail(db, {
    collection: name,
    from: docs - 1,
    awaitMs: 1000,
    batchSize: 1000,
    onBatch() {
      if (++replies === 2) polling(); // the first getMore has returned: the cursor is in its polling loop
    },
  });
  try {
    await Promise.race([steady, cursor.ended]);
    const before = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 2000)); // the measured window itself, not a wait for an event
    return cpuSeconds(pid) - before;
  } finally {
    await cursor.stop();
  }
}
