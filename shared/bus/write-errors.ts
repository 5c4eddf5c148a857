/**
 * What an ordered `insertMany` that failed tells the writer (shared/bus/append.ts), read through the
 * driver's own API: a MongoBulkWriteError carries the bulk result (`err.result`), whose
 * `getWriteErrors()` and `getWriteConcernError()` say which documents were refused and whether the
 * write concern failed (docs/mongodb.md "Write concern"). Depending on the path inside the driver the
 * error's own `code` is the first write error's (11000) or the write concern error's (e.g. 64), so
 * neither that code nor a property the error does not have decides.
 */
import { MongoBulkWriteError, MongoWriteConcernError } from "mongodb";
import { DUPLICATE_KEY } from "./errors.ts";

/** Did the write concern fail? Then nothing of that insert may be acknowledged: it may be rolled back. */
export function hasWriteConcernError(err: unknown): boolean {
  if (err instanceof MongoWriteConcernError) return true;
  if (!(err instanceof MongoBulkWriteError)) return false;
  return err.err !== undefined || err.result?.getWriteConcernError() !== undefined;
}

/**
 * For an insert that lost the race for an offset and nothing else — every write error a duplicate key,
 * the write concern satisfied — the index of the first refused document: an ordered insert wrote every
 * document before it, with the write concern. Null for any other failure.
 */
export function lostRaceAt(err: unknown): number | null {
  if (!(err instanceof MongoBulkWriteError) || hasWriteConcernError(err)) return null;
  const writeErrors = err.result?.getWriteErrors() ?? [];
  if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) return null;
  return Math.min(...writeErrors.map((e) => e.index));
}
