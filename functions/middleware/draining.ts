/**
 * While the process drains (functions/drain.ts), every request but the liveness probe is answered
 * 503 `node_draining` with Retry-After, before anything is read or written: the caller retries on
 * another instance. `/readyz` is one of them, so a load balancer stops sending new requests here.
 */
import type { MiddlewareHandler } from "hono";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import type { IngestEnv } from "../env.ts";
import { errorResponse } from "./errors.ts";

export function nodeDraining(): TailcastError {
  return new TailcastError(ErrorCode.nodeDraining, "This instance is shutting down; retry on another.", {
    retryAfter: 1,
  });
}

export function drainGate(draining: () => boolean): MiddlewareHandler<IngestEnv> {
  return async (c, next) => {
    if (!draining() || c.req.path === "/healthz") return next();
    return errorResponse(c, nodeDraining());
  };
}
