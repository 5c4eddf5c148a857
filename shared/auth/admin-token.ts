/**
 * Operator endpoints of a tailer — `POST /admin/drain` and the fleet status page — take
 * `Authorization: Bearer <TAILCAST_ADMIN_TOKEN>`. Without the variable a drain is always refused, and
 * the read-only status page is open only when TAILCAST_AUTH=off (local development); a refusal says
 * what to set: nothing is open by accident of a missing variable (README "Secure by default").
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { type Env, readEnv } from "../env.ts";
import { ErrorCode, TailcastError } from "../errors.ts";
import { bearerToken } from "./bearer.ts";
import { authDisabled } from "./mode.ts";

export type AdminAccess =
  | { kind: "open" }
  | { kind: "token"; digest: Buffer }
  /** Auth is on and no token is configured: every request is refused. */
  | { kind: "closed" };

const adminSchema = z.object({
  TAILCAST_ADMIN_TOKEN: z
    .string()
    .trim()
    .min(16, "must be at least 16 characters")
    .regex(/^\S+$/, "must not contain white space (it travels in an Authorization: Bearer header)")
    .optional(),
});

const digestOf = (token: string) => createHash("sha256").update(token, "utf8").digest();

/** Reads TAILCAST_ADMIN_TOKEN (and TAILCAST_AUTH); throws `invalid_config` for a bad value. */
export function loadAdminAccess(env: Env): AdminAccess {
  const token = readEnv(adminSchema, env).TAILCAST_ADMIN_TOKEN;
  if (token !== undefined) return { kind: "token", digest: digestOf(token) };
  return authDisabled(env) ? { kind: "open" } : { kind: "closed" };
}

export interface CheckAdminOptions {
  /** Whether the endpoint is open without a token under TAILCAST_AUTH=off (a page is; a drain is not). */
  openInDev: boolean;
}

/** Throws `forbidden` or `unauthorized` unless the request may use the operator endpoint `what`. */
export function checkAdmin(
  access: AdminAccess,
  authorizationHeader: string | undefined,
  what: string,
  { openInDev }: CheckAdminOptions = { openInDev: true },
): void {
  if (access.kind === "open" && openInDev) return;
  if (access.kind !== "token") {
    throw new TailcastError(
      ErrorCode.forbidden,
      openInDev
        ? `${what} needs TAILCAST_ADMIN_TOKEN, which is not set on this node (it is open only with TAILCAST_AUTH=off).`
        : `${what} is disabled: TAILCAST_ADMIN_TOKEN is not set on this node.`,
    );
  }
  const given = bearerToken(authorizationHeader);
  // Fixed-length digests compared in constant time: the timing says nothing about the token.
  if (given === undefined || !timingSafeEqual(digestOf(given), access.digest)) {
    throw new TailcastError(
      ErrorCode.unauthorized,
      `${what} needs Authorization: Bearer <TAILCAST_ADMIN_TOKEN>.`,
    );
  }
}
