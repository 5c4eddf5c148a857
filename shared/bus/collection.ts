/**
 * Creating and checking the bus: a capped collection with a unique index on `offset` and at least
 * one document. Safe to run from many processes at once; never drops or converts user data.
 */
import { randomUUID } from "node:crypto";
import type { Collection, CreateIndexesOptions, Db, IndexSpecification } from "mongodb";
import { ErrorCode, TailcastError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { BusDoc, SentinelDoc } from "./doc.ts";
import { isDuplicateKey, isNamespaceExists, isNotImplemented } from "./errors.ts";

export interface BusShape {
  collection: string;
  sizeBytes: number;
  maxDocs: number;
}

const BUS_INDEXES: ReadonlyArray<[IndexSpecification, CreateIndexesOptions & { name: string }]> = [
  // The unique index is what serializes offset assignment between writers (docs/offsets.md).
  [{ offset: 1 }, { unique: true, name: "offset_1" }],
  // History and client recovery read one channel's range without scanning the others.
  [{ channel: 1, offset: 1 }, { name: "channel_1_offset_1" }],
  // Finds the message an interrupted idempotent publish may have left (shared/bus/idempotency.ts).
  [{ ik: 1 }, { name: "ik_1", sparse: true }],
];

async function collectionOptions(db: Db, name: string): Promise<Record<string, unknown> | null> {
  const [info] = await db.listCollections({ name }, { nameOnly: false }).toArray();
  if (!info) return null;
  return ("options" in info ? info.options : {}) ?? {};
}

/** Whether the bus is there as set up: a check cheap enough for every readiness probe. */
export async function busState(db: Db, collection: string): Promise<"capped" | "missing" | "not_capped"> {
  const options = await collectionOptions(db, collection);
  if (options === null) return "missing";
  return options.capped === true ? "capped" : "not_capped";
}

export async function ensureBus(db: Db, shape: BusShape, log?: Logger): Promise<Collection<BusDoc>> {
  let options = await collectionOptions(db, shape.collection);
  if (options === null) {
    try {
      await db.createCollection(shape.collection, {
        capped: true,
        size: shape.sizeBytes,
        max: shape.maxDocs,
      });
      log?.info("bus created", {
        collection: shape.collection,
        sizeBytes: shape.sizeBytes,
        maxDocs: shape.maxDocs,
      });
    } catch (err) {
      if (!isNamespaceExists(err)) throw err; // another process won the race
    }
    options = (await collectionOptions(db, shape.collection)) ?? {};
  }
  if (options.capped !== true) {
    throw new TailcastError(
      ErrorCode.busNotCapped,
      `Collection "${db.databaseName}.${shape.collection}" exists and is not capped; tailcast will not touch it. ` +
        "Choose another TAILCAST_BUS_COLLECTION or TAILCAST_DB, or drop or rename that collection yourself.",
    );
  }
  if (options.size !== undefined && Number(options.size) < shape.sizeBytes) {
    log?.warn("bus exists with a smaller size than configured; keeping it", {
      actual: Number(options.size),
      configured: shape.sizeBytes,
    });
  }
  const bus = db.collection<BusDoc>(shape.collection);
  // Only missing indexes are created: a node that starts against a set-up bus then writes nothing
  // (on FerretDB's SQLite backend a needless write can wait on "database is locked" behind open cursors).
  const existing = new Set((await bus.listIndexes().toArray()).map((i) => i.name as string));
  for (const [keys, options] of BUS_INDEXES) {
    if (!existing.has(options.name)) await bus.createIndex(keys, options);
  }
  if ((await bus.findOne({}, { projection: { _id: 1 } })) === null) {
    const epoch = randomUUID();
    const sentinel: SentinelDoc = {
      _id: `sentinel-${epoch}`,
      offset: 0,
      epoch,
      kind: "sentinel",
      ts: new Date(),
    };
    try {
      await bus.insertOne(sentinel);
      log?.info("bus epoch started", { epoch });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // a concurrent setup wrote the sentinel first: its epoch wins
    }
  }
  return bus;
}

/**
 * The newest document: the live end of the bus. Read in reverse natural order, which is offset order by the
 * bus invariant (docs/offsets.md, "Why natural order equals offset order"): on MongoDB a reverse collection
 * scan that stops at the first document; on the project's patched FerretDB one row, where a sort on
 * `offset` would read and sort the whole bus (docs/offsets.md, "FerretDB").
 */
export async function newestPosition(
  bus: Collection<BusDoc>,
  maxTimeMS?: number,
): Promise<{ offset: number; epoch: string; ts: Date } | null> {
  return bus
    .findOne(
      {},
      {
        sort: { $natural: -1 },
        projection: { _id: 0, offset: 1, epoch: 1, ts: 1 },
        ...(maxTimeMS === undefined ? {} : { maxTimeMS }),
      },
    )
    .catch(noCappedBus);
}

/** The oldest retained document, in natural order for the same reasons as newestPosition. */
export async function oldestPosition(
  bus: Collection<BusDoc>,
): Promise<{ offset: number; epoch: string; ts: Date } | null> {
  return bus
    .findOne({}, { sort: { $natural: 1 }, projection: { _id: 0, offset: 1, epoch: 1, ts: 1 } })
    .catch(noCappedBus);
}

/**
 * FerretDB answers NotImplemented to a `$natural` sort on a collection that is not capped — also one
 * that does not exist, where MongoDB answers with nothing (docs/ferretdb.md). Either way there is no
 * bus to read: the same answer as MongoDB's for a dropped bus.
 */
function noCappedBus(err: unknown): null {
  if (isNotImplemented(err)) return null;
  throw err;
}
