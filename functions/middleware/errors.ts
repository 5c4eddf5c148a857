/**
 * Every error leaves as `{ error: { code, message } }` with its status (README "HTTP"). Database failures
 * become 503 + Retry-After; anything unexpected is a bare 500 and a log line, never a stack trace.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { MongoError } from "mongodb";
import { ErrorCode, TailcastError, toErrorBody } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { IngestEnv } from "../env.ts";

function busUnavailable(cause: unknown): TailcastError {
  return new TailcastError(ErrorCode.busUnavailable, "The message bus is unavailable; retry shortly.", {
    cause,
    retryAfter: 1,
  });
}

export function errorResponse(c: Context, err: unknown): Response {
  // Kept where Hono keeps a thrown one, so the metrics middleware can tell why (middleware/metrics.ts).
  if (err instanceof Error) c.error = err;
  const { status, body, retryAfter } = toErrorBody(err instanceof MongoError ? busUnavailable(err) : err);
  if (retryAfter !== undefined) c.header("Retry-After", String(retryAfter));
  return c.json(body, status as 400);
}

export function onError(appLog: Logger): ErrorHandler<IngestEnv> {
  return (err, c) => {
    const log = c.get("log") ?? appLog;
    if (err instanceof MongoError) log.warn("bus write failed", { err, path: c.req.path });
    else if (!(err instanceof TailcastError)) log.error("unhandled error", { err, path: c.req.path });
    return errorResponse(c, err);
  };
}

export const notFound: NotFoundHandler = (c) =>
  errorResponse(c, new TailcastError(ErrorCode.notFound, `No route for ${c.req.method} ${c.req.path}.`));
