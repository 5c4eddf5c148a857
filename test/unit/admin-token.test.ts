import { describe, expect, it } from "vitest";
import { checkAdmin, loadAdminAccess } from "../../shared/auth/admin-token.ts";
import { thrown } from "../helpers/thrown.ts";

const TOKEN = "operator-token-0123456789";

describe("admin token (status page)", () => {
  it("is open with TAILCAST_AUTH=off and no token", () => {
    const access = loadAdminAccess({ TAILCAST_AUTH: "off" });
    expect(access.kind).toBe("open");
    expect(() => checkAdmin(access, undefined, "The status page")).not.toThrow();
  });

  it("refuses everything with forbidden when auth is on and no token is set, saying what to set", () => {
    const access = loadAdminAccess({});
    const err = thrown(() => checkAdmin(access, `Bearer ${TOKEN}`, "The status page"));
    expect(err).toMatchObject({ code: "forbidden", status: 403 });
    expect(String((err as Error).message)).toContain("TAILCAST_ADMIN_TOKEN");
  });

  it("needs exactly the configured bearer token once one is set, also with auth off", () => {
    for (const env of [
      { TAILCAST_ADMIN_TOKEN: TOKEN },
      { TAILCAST_ADMIN_TOKEN: TOKEN, TAILCAST_AUTH: "off" },
    ]) {
      const access = loadAdminAccess(env);
      expect(() => checkAdmin(access, `Bearer ${TOKEN}`, "x")).not.toThrow();
      expect(() => checkAdmin(access, `bearer  ${TOKEN}`, "x")).not.toThrow();
      for (const header of [undefined, "", `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, "Bearer"]) {
        expect(thrown(() => checkAdmin(access, header, "x"))).toMatchObject({
          code: "unauthorized",
          status: 401,
        });
      }
    }
  });

  it("refuses a short token at start", () => {
    expect(thrown(() => loadAdminAccess({ TAILCAST_ADMIN_TOKEN: "short" }))).toMatchObject({
      code: "invalid_config",
    });
  });
});
