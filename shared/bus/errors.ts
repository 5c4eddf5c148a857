/**
 * Classifying database errors by code and label — never by message text, which servers and versions
 * word differently. This is the one place that knows how FerretDB differs from MongoDB when a tail ends
 * (docs/ferretdb.md).
 */
import { MongoError, MongoNetworkError, MongoServerError, MongoServerSelectionError } from "mongodb";
import { ErrorCode, TailcastError } from "../errors.ts";

/** Every MongoDB server error code tailcast acts on, by its name in MongoDB's error_codes.yml. */
export const MongoCode = Object.freeze({
  InternalError: 1,
  HostUnreachable: 6,
  HostNotFound: 7,
  CursorNotFound: 43,
  NamespaceExists: 48,
  WriteConcernFailed: 64,
  IndexOptionsConflict: 85,
  NetworkTimeout: 89,
  ShutdownInProgress: 91,
  CappedPositionLost: 136,
  QueryPlanKilled: 175,
  PrimarySteppedDown: 189,
  CursorKilled: 237,
  NotImplemented: 238,
  ExceededTimeLimit: 262,
  SocketException: 9001,
  NotWritablePrimary: 10107,
  DuplicateKey: 11000,
  InterruptedAtShutdown: 11600,
  InterruptedDueToReplStateChange: 11602,
  NotPrimaryNoSecondaryOk: 13435,
  NotPrimaryOrSecondary: 13436,
} as const);

/** Codes that end a tailable cursor (docs/mongodb.md "Tailable cursors"). */
export const CursorDeathCode = Object.freeze({
  CappedPositionLost: MongoCode.CappedPositionLost,
  QueryPlanKilled: MongoCode.QueryPlanKilled,
  CursorNotFound: MongoCode.CursorNotFound,
  CursorKilled: MongoCode.CursorKilled,
  /**
   * FerretDB v1.24 reports an evicted cursor position as InternalError ("iterator is read to the end
   * or closed") instead of CappedPositionLost (docs/ferretdb.md). Real MongoDB never uses code 1 for
   * a cursor, so treating it as cursor death is safe there too.
   */
  FerretDBInternalError: MongoCode.InternalError,
} as const);

const cursorDeath: ReadonlySet<number> = new Set(Object.values(CursorDeathCode));

// Not primary, shutting down, interrupted: the driver retries reads and writes once; we re-issue.
const transientServerCodes: ReadonlySet<number> = new Set([
  MongoCode.HostUnreachable,
  MongoCode.HostNotFound,
  MongoCode.NetworkTimeout,
  MongoCode.ShutdownInProgress,
  MongoCode.PrimarySteppedDown,
  MongoCode.ExceededTimeLimit,
  MongoCode.SocketException,
  MongoCode.NotWritablePrimary,
  MongoCode.InterruptedAtShutdown,
  MongoCode.InterruptedDueToReplStateChange,
  MongoCode.NotPrimaryNoSecondaryOk,
  MongoCode.NotPrimaryOrSecondary,
  MongoCode.WriteConcernFailed,
]);

export const DUPLICATE_KEY = MongoCode.DuplicateKey;

export function codeOf(err: unknown): number | undefined {
  if (err instanceof MongoError && typeof err.code === "number") return err.code;
  return undefined;
}

export function isCursorDeath(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && cursorDeath.has(code);
}

/**
 * Socket errors the driver lets out unwrapped: a command written to a connection the server has just
 * closed fails with Node's own EPIPE ("This socket has been ended by the other party") from the
 * driver's wait for the write to drain, not with a MongoNetworkError. Codes, never message text.
 */
const SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([
  "EPIPE",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
]);

function isSocketError(err: unknown): boolean {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return typeof code === "string" && SOCKET_ERROR_CODES.has(code);
}

/** A failed database operation — as opposed to a refusal of tailcast's own or a defect. */
export function isDatabaseError(err: unknown): boolean {
  return err instanceof MongoError || isSocketError(err);
}

/** What a client may be told of a thrown value: a database error is `bus_unavailable`, to retry. */
export function publicError(err: unknown): unknown {
  return isDatabaseError(err)
    ? new TailcastError(ErrorCode.busUnavailable, "The message bus is unavailable; retry shortly.", {
        cause: err,
        retryAfter: 1,
      })
    : err;
}

/** Network, failover or overload: the operation may succeed if retried later. */
export function isTransient(err: unknown): boolean {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return true;
  if (isSocketError(err)) return true;
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

/** A tail that ended this way is simply re-opened from the last position (getMore is not retryable: docs/mongodb.md). */
export function isResumableTailError(err: unknown): boolean {
  return isCursorDeath(err) || isTransient(err);
}

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/**
 * FerretDB v1.24 answers NotImplemented to some index options MongoDB has (TTL, partial indexes;
 * docs/ferretdb.md). Callers that can live without the option use this to degrade, never to hide
 * other errors.
 */
export function isNotImplemented(err: unknown): boolean {
  return codeOf(err) === MongoCode.NotImplemented;
}

/** An index of that name exists with other options (e.g. another TTL). */
export function isIndexOptionsConflict(err: unknown): boolean {
  return codeOf(err) === MongoCode.IndexOptionsConflict;
}

/** Another process created the collection first. */
export function isNamespaceExists(err: unknown): boolean {
  return codeOf(err) === MongoCode.NamespaceExists;
}
