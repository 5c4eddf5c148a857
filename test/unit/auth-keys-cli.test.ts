import { describe, expect, it } from "vitest";
import { type KeysIo, runKeys } from "../../infra/keys.ts";
import { createKeyVerifier, hashApiKey, parseApiKeys } from "../../shared/auth/api-keys.ts";
import { createTokenVerifier } from "../../shared/auth/jwt.ts";

const NOW_SEC = 1_800_000_000;
const SECRET = "0123456789abcdef0123456789abcdef";

function fakeIo(stdin = "", env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: KeysIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    readStdin: async () => stdin,
    env,
    nowSec: () => NOW_SEC,
  };
  return { io, out, err };
}

describe("npm run keys -- new", () => {
  it("prints the key once and an entry holding only its hash, which the server accepts", async () => {
    const { io, out, err } = fakeIo();
    expect(
      await runKeys(["new", "billing", "orders:*", "invoices", "--rate", "50", "--burst", "100"], io),
    ).toBe(0);
    expect(out).toHaveLength(2);
    const [key, entryJson] = out as [string, string];
    expect(key).toMatch(/^tc_/);
    expect(entryJson).not.toContain(key);
    const entry = JSON.parse(entryJson);
    expect(entry).toEqual({
      id: "billing",
      sha256: hashApiKey(key),
      channels: ["orders:*", "invoices"],
      ratePerSecond: 50,
      burst: 100,
    });
    const verifier = createKeyVerifier(parseApiKeys(`[${entryJson}]`));
    expect(verifier.verify(`Bearer ${key}`).id).toBe("billing");
    expect(err.join("\n")).toContain("shown once");
  });

  it("refuses a bad pattern or id (exit 1) and missing arguments (exit 2)", async () => {
    const bad = fakeIo();
    expect(await runKeys(["new", "billing", "a*b"], bad.io)).toBe(1);
    expect(bad.out).toEqual([]);
    expect(await runKeys(["new", "bad id", "x"], fakeIo().io)).toBe(1);
    const usage = fakeIo();
    expect(await runKeys(["new", "billing"], usage.io)).toBe(2);
    expect(usage.err.join("\n")).toContain("usage:");
    expect(await runKeys(["new", "billing", "x", "--rate", "fast"], fakeIo().io)).toBe(2);
  });
});

describe("npm run keys -- hash", () => {
  it("hashes an argument or stdin", async () => {
    const arg = fakeIo();
    expect(await runKeys(["hash", "tc_abc"], arg.io)).toBe(0);
    expect(arg.out).toEqual([hashApiKey("tc_abc")]);
    const stdin = fakeIo("tc_abc\n");
    expect(await runKeys(["hash"], stdin.io)).toBe(0);
    expect(stdin.out).toEqual([hashApiKey("tc_abc")]);
    expect(await runKeys(["hash"], fakeIo("").io)).toBe(2);
  });
});

describe("npm run keys -- token", () => {
  it("prints an HS256 JWT the subscriber verifier accepts", async () => {
    const { io, out } = fakeIo();
    const args = ["token", "--secret", SECRET, "--sub", "alice", "--channels", "chat:*,news", "--ttl", "60"];
    expect(await runKeys([...args, "--aud", "tailcast", "--iss", "dev"], io)).toBe(0);
    const verifier = createTokenVerifier(
      { secret: SECRET, algorithms: ["HS256"], clockToleranceSec: 0, audience: "tailcast", issuer: "dev" },
      { clock: () => NOW_SEC * 1000 },
    );
    const s = await verifier.verify(out[0]);
    expect(s.sub).toBe("alice");
    expect(s.expiresAt).toBe((NOW_SEC + 60) * 1000);
    expect(s.channels.allows("chat:1")).toBe(true);
    expect(s.channels.allows("news")).toBe(true);
  });

  it("takes the secret from TAILCAST_JWT_SECRET", async () => {
    const { io, out } = fakeIo("", { TAILCAST_JWT_SECRET: SECRET });
    expect(await runKeys(["token", "--sub", "bob", "--channels", "*"], io)).toBe(0);
    expect(out).toHaveLength(1);
  });

  it.each([
    [["token", "--secret", "short", "--sub", "a", "--channels", "x"]],
    [["token", "--secret", SECRET, "--channels", "x"]],
    [["token", "--secret", SECRET, "--sub", "a"]],
    [["token", "--secret", SECRET, "--sub", "a", "--channels", "a*b"]],
    [["token", "--secret", SECRET, "--sub", "a", "--channels", "x", "--ttl", "-5"]],
    [["token", "--bogus"]],
    [["frobnicate"]],
    [[]],
  ])("usage error %# → exit 2", async (argv) => {
    const { io, out, err } = fakeIo();
    expect(await runKeys(argv, io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join("\n")).toContain("usage:");
  });
});
