/**
 * The bus floor's reader: one tailable awaitData cursor and nothing else — no offsets, no gap checks,
 * no fan-out. Documents carry an increasing numeric `_id` (one sequential writer), so a cursor that
 * ends is re-opened after the last `_id` read. Raw find/getMore commands as in shared/bus/tail-loop.ts,
 * for the same reason: on FerretDB a tailable cursor whose first batch is not full closes at once, so
 * the first batch asks for one document (the last one read, dropped) and getMore for many.
 */
import { type Document, type Long, MongoClient } from "mongodb";
import { nowMs } from "../child.ts";
import type { Recorder } from "./recorder.ts";
import type { ClientSpec, Connected } from "./transports.ts";

const AWAIT_MS = 1000;
const BATCH = 1000;
const OPTIONS = { promoteLongs: false } as const;

export async function readBareTail(spec: ClientSpec, recorder: Recorder): Promise<Connected> {
  const { db: dbName, collection } = spec;
  if (!dbName || !collection) throw new Error("a bare reader needs db and collection");
  const client = new MongoClient(spec.url, { directConnection: true, maxPoolSize: 2 });
  await client.connect();
  const db = client.db(dbName);
  const newest = await db
    .collection(collection)
    .find({}, { sort: { $natural: -1 }, limit: 1, projection: { _id: 1 } })
    .next();
  let last = (newest?._id as number | undefined) ?? 0;
  let stopped = false;
  const abort = new AbortController();

  const tailOnce = async (): Promise<void> => {
    const found = await db.command(
      { find: collection, filter: { _id: { $gte: last } }, tailable: true, awaitData: true, batchSize: 1 },
      { ...OPTIONS, signal: abort.signal },
    );
    let id = found.cursor.id as Long;
    const take = (docs: Document[]) => {
      const at = nowMs();
      for (const doc of docs) {
        const n = doc._id as number;
        if (n <= last) continue;
        last = n;
        recorder.receive(doc, undefined, at);
      }
    };
    take(found.cursor.firstBatch as Document[]);
    while (!id.isZero() && !stopped) {
      const more = await db.command(
        { getMore: id, collection, batchSize: BATCH, maxTimeMS: AWAIT_MS },
        { ...OPTIONS, signal: abort.signal },
      );
      id = more.cursor.id as Long;
      take(more.cursor.nextBatch as Document[]);
    }
  };

  void (async () => {
    while (!stopped) {
      await tailOnce().catch(async () => {
        if (!stopped) await new Promise((r) => setTimeout(r, 10));
      });
    }
  })();

  return {
    close: () => {
      stopped = true;
      abort.abort();
      void client.close();
    },
  };
}
