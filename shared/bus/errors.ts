/**
 * Classifying database errors by code and label — never by message text (brief §7). This is the one
 * place that knows how FerretDB differs from MongoDB when a tail ends.
 */
import { MongoError, MongoNetworkError, MongoServerError, MongoServerSelectionError } from "mongodb";

/** Codes that end a tailable cursor (brief §4). */
export const CursorDeathCode = Object.freeze({
  CappedPositionLost: 136,
  QueryPlanKilled: 175,
  CursorNotFound: 43,
  CursorKilled: 237,
  /**
   * FerretDB v1.24 reports an evicted cursor position as InternalError ("iterator is read to the end
   * or closed") instead of 136 (brief §5). Real MongoDB never uses code 1 for a cursor, so treating it
   * as cursor death is safe there too.
   */
  FerretDBInternalError: 1,
} as const);

const cursorDeath: ReadonlySet<number> = new Set(Object.values(CursorDeathCode));

// Not primary, shutting down, interrupted: the driver retries reads and writes once; we re-issue.
const transientServerCodes: ReadonlySet<number> = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 64,
]);

export const DUPLICATE_KEY = 11000;

export function codeOf(err: unknown): number | undefined {
  if (err instanceof MongoError && typeof err.code === "number") return err.code;
  return undefined;
}

export function isCursorDeath(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && cursorDeath.has(code);
}

/** Network, failover or overload: the operation may succeed if retried later. */
export function isTransient(err: unknown): boolean {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return true;
  if (err instanceof MongoError) {
    if (err.hasErrorLabel("RetryableWriteError") || err.hasErrorLabel("TransientTransactionError"))
      return true;
    if (err.hasErrorLabel("ResumableChangeStreamError")) return true;
    const code = codeOf(err);
    if (code !== undefined && transientServerCodes.has(code)) return true;
    if (err.name === "MongoWriteConcernError" || err.name === "MongoTopologyClosedError") return true;
  }
  return false;
}

/** A tail that ended this way is simply re-opened from the last position (brief §4: getMore is not retryable). */
export function isResumableTailError(err: unknown): boolean {
  return isCursorDeath(err) || isTransient(err);
}

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/**
 * FerretDB v1.24 answers NotImplemented (238) to some index options MongoDB has (TTL, partial
 * indexes). Callers that can live without the option use this to degrade, never to hide other errors.
 */
export function isNotImplemented(err: unknown): boolean {
  return codeOf(err) === 238;
}
