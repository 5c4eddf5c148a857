/**
 * Every ingest request gets an id — the caller's `X-Request-Id` when it is sane (1–128 characters of
 * letters, digits, `_`, `-`, `=`), else a new UUID — echoed in the response header and bound as
 * `requestId` to every log line written for the request (README "Logs"). Each request is logged at
 * `debug` once answered: method, path, status and milliseconds.
 */
import type { MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import type { Logger } from "../../shared/log.ts";
import type { IngestEnv } from "../env.ts";

const MAX_REQUEST_ID_LENGTH = 128;

export function requestIds(): MiddlewareHandler<IngestEnv> {
  return requestId({ limitLength: MAX_REQUEST_ID_LENGTH });
}

export function requestLog(log: Logger): MiddlewareHandler<IngestEnv> {
  return async (c, next) => {
    const start = performance.now();
    const requestLogger = log.with({ requestId: c.get("requestId") });
    c.set("log", requestLogger);
    await next();
    requestLogger.debug("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - start) * 10) / 10,
    });
  };
}
