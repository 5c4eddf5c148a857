/**
 * Errors of a failed ordered `insertMany`, built by the mongodb driver's own code from a server reply
 * (node_modules/mongodb/src/bulk/common.ts `executeCommands`, `mergeBatchResults`, `handleWriteError`),
 * not imitated: what shared/bus/write-errors.ts reads is what the driver really gives it.
 */
import { createRequire } from "node:module";
import { MongoBulkWriteError, MongoWriteConcernError } from "mongodb";

interface Internals {
  Batch: new (
    type: number,
    originalZeroIndex: number,
  ) => {
    operations: unknown[];
    originalIndexes: number[];
  };
  BatchType: { INSERT: number };
  BulkWriteResult: new (bulkResult: unknown, ordered: boolean) => unknown;
  BulkOperationBase: { prototype: { handleWriteError(this: unknown, result: unknown): void } };
  mergeBatchResults(batch: unknown, bulkResult: unknown, err?: unknown, result?: unknown): void;
}
// The driver's bulk internals: exported by that module, not by the package's index.
const driver = createRequire(import.meta.url)("mongodb/lib/bulk/common.js") as Internals;

/** What the server answers to an `insert` of `docs` documents. */
export interface InsertReply {
  /** Documents written. */
  n: number;
  writeErrors?: Array<{ index: number; code: number; errmsg: string }>;
  writeConcernError?: { code: number; codeName?: string; errmsg: string; errInfo?: object };
}

function batchOf(docs: number) {
  const batch = new driver.Batch(driver.BatchType.INSERT, 0);
  for (let i = 0; i < docs; i++) {
    batch.operations.push({ _id: i });
    batch.originalIndexes.push(i);
  }
  return batch;
}

function emptyResult() {
  return {
    ok: 1,
    writeErrors: [],
    writeConcernErrors: [],
    insertedIds: [],
    nInserted: 0,
    nUpserted: 0,
    nMatched: 0,
    nModified: 0,
    nRemoved: 0,
    upserted: [],
  };
}

/**
 * The error `insertMany(…, { ordered: true })` rejects with for this reply, as the driver (7.x) builds it:
 * a reply with a `writeConcernError` is first thrown as a MongoWriteConcernError by the server layer,
 * which the bulk layer turns into a MongoBulkWriteError carrying the write concern error's code; any
 * other failure goes through `handleWriteError`, which carries the first write error's code.
 */
export function insertManyError(docs: number, reply: InsertReply): MongoBulkWriteError {
  const bulkResult = emptyResult();
  const batch = batchOf(docs);
  const server = { ok: 1, ...reply };
  if (reply.writeConcernError) {
    const thrown = new MongoWriteConcernError(server as never);
    driver.mergeBatchResults(batch, bulkResult, thrown, server);
    return new MongoBulkWriteError(
      { message: reply.writeConcernError.errmsg, code: reply.writeConcernError.code },
      new driver.BulkWriteResult(bulkResult, true) as never,
    );
  }
  return handleWriteError(batch, bulkResult, server);
}

/**
 * The same reply through `handleWriteError` only, as a driver that does not throw at the server layer
 * for a write concern error hands it over (the duplicate key's code on top, the write concern error
 * only in `err.result`).
 */
export function bulkErrorViaHandleWriteError(docs: number, reply: InsertReply): MongoBulkWriteError {
  return handleWriteError(batchOf(docs), emptyResult(), { ok: 1, ...reply });
}

function handleWriteError(batch: unknown, bulkResult: ReturnType<typeof emptyResult>, server: object) {
  driver.mergeBatchResults(batch, bulkResult, undefined, server);
  const result = new driver.BulkWriteResult(bulkResult, true);
  try {
    driver.BulkOperationBase.prototype.handleWriteError.call({ s: { bulkResult } }, result);
  } catch (err) {
    if (err instanceof MongoBulkWriteError) return err;
    throw err;
  }
  throw new Error("the driver raised nothing for this reply");
}
