/**
 * Every error leaves as `{ error: { code, message } }` with its status (README "HTTP"). Database failures
 * become 503 + Retry-After; anything unexpected is a bare 500 and a log line, never a stack trace.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { isDatabaseError, publicError } from "../../shared/bus/errors.ts";
import { ErrorCode, TailcastError, toErrorBody } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { PartialPublishError, partialResults, partialRetryAfter } from "../batch.ts";
import type { IngestEnv } from "../env.ts";

export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof PartialPublishError) return partialResponse(c, err);
  // Kept where Hono keeps a thrown one, so the metrics middleware can tell why (middleware/metrics.ts).
  if (err instanceof Error) c.error = err;
  const { status, body, retryAfter } = toErrorBody(publicError(err));
  if (retryAfter !== undefined) c.header("Retry-After", String(retryAfter));
  return c.json(body, status as 400);
}

/**
 * A batch written in part (README "Partitioned buses"): the first failure's status and error, as if it
 * had failed alone — so a client that only looks at the status retries, safely with its keys — plus
 * `results`, every message's receipt or error in request order, and the longest Retry-After.
 */
function partialResponse(c: Context, err: PartialPublishError): Response {
  if (err.first instanceof Error) c.error = err.first;
  const { status, body } = toErrorBody(publicError(err.first));
  const retryAfter = partialRetryAfter(err.outcomes, publicError);
  if (retryAfter !== undefined) c.header("Retry-After", String(retryAfter));
  return c.json({ ...body, results: partialResults(err.outcomes, publicError) }, status as 400);
}

export function onError(appLog: Logger): ErrorHandler<IngestEnv> {
  return (err, c) => {
    const log = c.get("log") ?? appLog;
    if (err instanceof PartialPublishError) {
      const failed = err.outcomes.filter((o) => o.kind === "failed").length;
      log.warn("batch written in part", { err: err.first, failed, of: err.outcomes.length });
    } else if (isDatabaseError(err)) log.warn("bus write failed", { err, path: c.req.path });
    else if (!(err instanceof TailcastError)) log.error("unhandled error", { err, path: c.req.path });
    // A refusal of tailcast's own that is a 5xx (a bus that is not capped) is the operator's to see.
    else if (err.status >= 500 && err.status !== 503) log.error("request refused", { err, path: c.req.path });
    return errorResponse(c, err);
  };
}

export const notFound: NotFoundHandler = (c) =>
  errorResponse(c, new TailcastError(ErrorCode.notFound, `No route for ${c.req.method} ${c.req.path}.`));
