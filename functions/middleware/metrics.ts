/**
 * Counts every request by route pattern, method and status; times publishes to their 201; counts 503s
 * by cause. The outermost middleware, so it sees the response every other layer produced — also the
 * ones onError rendered (Hono leaves the error in `c.error`, errorResponse records it there too).
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import {
  type IngestMetrics,
  methodLabel,
  PUBLISH_ROUTES,
  UNMATCHED_ROUTE,
  unavailableCause,
} from "../metrics.ts";

/** The pattern of the route that answered, e.g. `/v1/channels/:channel/messages`; never the raw path. */
export function routeLabel(c: Context): string {
  // Middleware is registered for every method ("ALL"); a route handler under its own method.
  const route = matchedRoutes(c).findLast((r) => r.method !== "ALL");
  return route?.path ?? UNMATCHED_ROUTE;
}

export function httpMetrics(metrics: IngestMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = routeLabel(c);
    const status = c.res.status;
    metrics.requests.inc({ route, method: methodLabel(c.req.method), status: String(status) });
    if (status === 201 && PUBLISH_ROUTES.has(route)) {
      metrics.publishDuration.observe((performance.now() - started) / 1000);
    }
    if (status === 503) metrics.unavailable.inc({ cause: unavailableCause(c.error) });
  };
}
