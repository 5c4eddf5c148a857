/**
 * GET /metrics: Prometheus text exposition of a registry, behind an optional bearer token
 * (TAILCAST_METRICS_TOKEN; README "Metrics"). Mounted on a component's own app, or served alone on
 * TAILCAST_METRICS_PORT (expose.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import type { Registry } from "prom-client";
import { bearerToken } from "../auth/bearer.ts";
import { ErrorCode, errorBody, TailcastError } from "../errors.ts";

export const METRICS_PATH = "/metrics";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** Fixed-length digests compared in constant time: the timing says nothing about the token. */
function sameToken(given: string | undefined, expected: Buffer): boolean {
  return given !== undefined && timingSafeEqual(digest(given), expected);
}

export function metricsRoutes(registry: Registry, token: string | undefined): Hono {
  const expected = token === undefined ? undefined : digest(token);
  const app = new Hono();
  app.get(METRICS_PATH, async (c) => {
    if (expected !== undefined && !sameToken(bearerToken(c.req.header("authorization")), expected)) {
      const refused = new TailcastError(ErrorCode.unauthorized, "A valid metrics token is required.");
      return c.json(errorBody(refused), 401, { "WWW-Authenticate": 'Bearer realm="metrics"' });
    }
    return c.body(await registry.metrics(), 200, { "Content-Type": registry.contentType });
  });
  return app;
}
