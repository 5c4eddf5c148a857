/**
 * Operator endpoints of a tailer node, behind TAILCAST_ADMIN_TOKEN (shared/auth/admin-token.ts):
 * `POST /admin/drain` begins the graceful drain (README "Drain") and answers 202 at once; asking again
 * while draining answers the same.
 */
import { Hono } from "hono";
import { type AdminAccess, checkAdmin } from "../shared/auth/admin-token.ts";
import { toErrorBody } from "../shared/errors.ts";

export interface AdminDeps {
  access: AdminAccess;
  /** Begins the drain (or joins the one under way); does not wait for it. */
  drain: (reason: string) => void;
}

export function adminRoutes(deps: AdminDeps): Hono {
  const app = new Hono();
  app.post("/admin/drain", (c) => {
    try {
      checkAdmin(deps.access, c.req.header("authorization"), "POST /admin/drain", { openInDev: false });
    } catch (err) {
      const { status, body } = toErrorBody(err);
      const challenge = status === 401 ? { "WWW-Authenticate": 'Bearer realm="tailcast-admin"' } : undefined;
      return c.json(body, status as 401 | 403 | 500, challenge);
    }
    deps.drain("POST /admin/drain");
    return c.json({ draining: true }, 202);
  });
  return app;
}
