/** The operator token check (shared/auth/admin-token.ts). */
import { describe, expect, it } from "vitest";
import { requireAdminToken } from "../../shared/auth/admin-token.ts";
import { ErrorCode } from "../../shared/errors.ts";

const TOKEN = "op-7f3c9a1e5b2d4c6a";

function codeOf(header: string | undefined, configured: string | undefined): string | null {
  try {
    requireAdminToken(header, configured);
    return null;
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe("requireAdminToken", () => {
  it("accepts the configured token as a Bearer credential", () => {
    expect(codeOf(`Bearer ${TOKEN}`, TOKEN)).toBeNull();
    expect(codeOf(`bearer   ${TOKEN} `, TOKEN)).toBeNull();
  });

  it("refuses a missing, malformed or wrong credential as unauthorized", () => {
    for (const header of [
      undefined,
      "",
      TOKEN,
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      "Bearer ",
      `Bearer ${TOKEN} extra`,
    ]) {
      expect(codeOf(header, TOKEN), String(header)).toBe(ErrorCode.unauthorized);
    }
  });

  it("refuses everything as forbidden when no token is configured, saying which variable to set", () => {
    expect(codeOf(`Bearer ${TOKEN}`, undefined)).toBe(ErrorCode.forbidden);
    expect(() => requireAdminToken(undefined, undefined)).toThrow(/TAILCAST_ADMIN_TOKEN is not set/);
  });
});
