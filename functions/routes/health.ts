/** Liveness (the process answers) and readiness (the bus answers). */
import { Hono } from "hono";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { errorResponse } from "../middleware/errors.ts";

export function healthRoutes(ready: () => Promise<void>): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", async (c) => {
    try {
      await ready();
      return c.json({ ok: true });
    } catch (cause) {
      return errorResponse(
        c,
        new TailcastError(ErrorCode.busUnavailable, "The message bus is not reachable.", {
          cause,
          retryAfter: 1,
          reason: "not_ready",
        }),
      );
    }
  });
  return app;
}
