/**
 * The operator's bearer token (TAILCAST_ADMIN_TOKEN) for a node's admin endpoints (README "Drain").
 * Not configured: the endpoints are refused outright rather than left open. Compared in constant time
 * (both sides hashed first, so their lengths do not leak either).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ErrorCode, TailcastError } from "../errors.ts";
import { bearerToken } from "./bearer.ts";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Throws `forbidden` when no admin token is configured, `unauthorized` when the Authorization header
 * does not carry it; returns when it does.
 */
export function requireAdminToken(authorization: string | undefined, configured: string | undefined): void {
  if (configured === undefined) {
    throw new TailcastError(
      ErrorCode.forbidden,
      "Admin endpoints are disabled: TAILCAST_ADMIN_TOKEN is not set on this node.",
    );
  }
  const given = bearerToken(authorization);
  if (given === undefined || !timingSafeEqual(digest(given), digest(configured))) {
    throw new TailcastError(
      ErrorCode.unauthorized,
      "A valid admin token is required (Authorization: Bearer).",
    );
  }
}
