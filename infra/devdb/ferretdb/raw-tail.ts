/**
 * A bare tailable awaitData reader over a bus-shaped capped collection: the raw find/getMore commands
 * shared/bus/tail-loop.ts issues, without any of its workarounds (no refill of skipped ranges, no catch-up
 * after an empty batch, no re-open). What it misses, the server lost. Used by measure.ts and by
 * test/integration/ferretdb-patch.test.ts.
 */
import type { Db, Document, Long } from "mongodb";

export interface RawTailOptions {
  collection: string;
  /** Reads documents with `offset >= from`; the first batch asks for one, so it is full on FerretDB. */
  from: number;
  /** getMore's maxTimeMS. */
  awaitMs: number;
  batchSize: number;
  /** Called with every reply's documents (the first batch, then each getMore's, empty or not). */
  onBatch(docs: Document[]): void;
}

export interface RawTail {
  /** getMore commands answered so far. */
  readonly getMores: number;
  /** Settles when stopped; rejects if a command failed or the server closed the cursor. */
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

const COMMAND_OPTIONS = { promoteLongs: false } as const; // cursor ids are 64-bit: keep them exact

export function rawTail(db: Db, opts: RawTailOptions): RawTail {
  let stopped = false;
  let getMores = 0;
  let cursorId: Long | undefined;
  const loop = async () => {
    const found = await db.command(
      {
        find: opts.collection,
        filter: { offset: { $gte: opts.from } },
        tailable: true,
        awaitData: true,
        batchSize: 1,
      },
      COMMAND_OPTIONS,
    );
    cursorId = found.cursor.id as Long;
    opts.onBatch(found.cursor.firstBatch as Document[]);
    while (!stopped) {
      if (cursorId.isZero()) throw new Error("the server closed the tailable cursor");
      const more = await db.command(
        {
          getMore: cursorId,
          collection: opts.collection,
          batchSize: opts.batchSize,
          maxTimeMS: opts.awaitMs,
        },
        COMMAND_OPTIONS,
      );
      getMores++;
      cursorId = more.cursor.id as Long;
      opts.onBatch(more.cursor.nextBatch as Document[]);
    }
  };
  const ended = loop();
  ended.catch(() => {}); // observed through `ended` / stop()
  return {
    get getMores() {
      return getMores;
    },
    ended,
    async stop() {
      stopped = true;
      await ended.catch(() => {});
      if (cursorId && !cursorId.isZero()) {
        await db.command({ killCursors: opts.collection, cursors: [cursorId] }).catch(() => {});
      }
    },
  };
}
