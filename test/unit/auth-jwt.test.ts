import {
  base64url,
  type CryptoKey,
  createLocalJWKSet,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { authorizeChannel } from "../../shared/auth/channel-patterns.ts";
import {
  createTokenVerifier,
  type JwtConfig,
  mapJoseError,
  TokenError,
  type TokenVerifier,
} from "../../shared/auth/jwt.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";

// Time is pinned: every token is built relative to NOW and the verifiers read the same clock.
const NOW_SEC = 1_800_000_000;
const clock = () => NOW_SEC * 1000;
const SECRET = "s3cret-for-tests-only-0123456789abcdef";
const enc = (s: string) => new TextEncoder().encode(s);

const good: JWTPayload = { sub: "alice", exp: NOW_SEC + 600, channels: ["chat:*", "news"] };

async function sign(
  claims: JWTPayload,
  key: CryptoKey | Uint8Array,
  alg = "HS256",
  header: Record<string, unknown> = {},
) {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT", ...header }).sign(key);
}

/** Resolves to the TailcastError the verifier rejects with; fails the test if it accepts. */
async function refusal(verifier: TokenVerifier, token: unknown): Promise<TailcastError> {
  try {
    await verifier.verify(token);
  } catch (err) {
    expect(err).toBeInstanceOf(TailcastError);
    const e = err as TailcastError;
    expect(e.code).toBe(ErrorCode.unauthorized);
    expect(e.status).toBe(401);
    if (typeof token === "string" && token.length > 0) expect(e.message).not.toContain(token);
    return e;
  }
  throw new Error("expected the token to be refused");
}

const hsConfig: JwtConfig = { secret: SECRET, algorithms: ["HS256"], clockToleranceSec: 5 };
const hs = createTokenVerifier(hsConfig, { clock });

let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
let rsaPem: string;
let rs: TokenVerifier;
let ec: { publicKey: CryptoKey; privateKey: CryptoKey };
let es: TokenVerifier;

beforeAll(async () => {
  rsa = await generateKeyPair("RS256", { extractable: true });
  rsaPem = await exportSPKI(rsa.publicKey);
  rs = createTokenVerifier({ publicKey: rsaPem, algorithms: ["RS256"], clockToleranceSec: 5 }, { clock });
  ec = await generateKeyPair("ES256", { extractable: true });
  const ecPem = await exportSPKI(ec.publicKey);
  es = createTokenVerifier({ publicKey: ecPem, algorithms: ["ES256"], clockToleranceSec: 5 }, { clock });
});

describe("valid tokens", () => {
  it("HS256: resolves the subscriber", async () => {
    const s = await hs.verify(await sign(good, enc(SECRET)));
    expect(s.sub).toBe("alice");
    expect(s.expiresAt).toBe((NOW_SEC + 600) * 1000);
    expect(s.channels.patterns).toEqual(["chat:*", "news"]);
    expect(s.channels.allows("chat:1")).toBe(true);
  });

  it("RS256 and ES256 with a PEM public key", async () => {
    expect((await rs.verify(await sign(good, rsa.privateKey, "RS256"))).sub).toBe("alice");
    expect((await es.verify(await sign(good, ec.privateKey, "ES256"))).sub).toBe("alice");
  });

  it("channel outside the claim → forbidden on subscribe, inside → allowed", async () => {
    const s = await hs.verify(await sign(good, enc(SECRET)));
    expect(() => authorizeChannel(s, "chat:room", "subscribe")).not.toThrow();
    try {
      authorizeChannel(s, "orders:1", "subscribe");
      throw new Error("expected forbidden");
    } catch (err) {
      expect((err as TailcastError).code).toBe(ErrorCode.forbidden);
    }
  });

  it("an empty channels claim is valid and allows nothing", async () => {
    const s = await hs.verify(await sign({ ...good, channels: [] }, enc(SECRET)));
    expect(s.channels.allows("chat:1")).toBe(false);
  });
});

describe("refused tokens", () => {
  it.each([undefined, null, 42, "", { token: "x" }])("no token (%j)", async (token) => {
    expect((await refusal(hs, token)).message).toBe(TokenError.missing);
  });

  it.each(["garbage", "a.b.c", "a.b", `${"x".repeat(20_000)}`])("malformed %#", async (token) => {
    expect((await refusal(hs, token)).message).toBe(TokenError.malformed);
  });

  it("forged signature: other secret, or a payload edited after signing", async () => {
    const other = await sign(good, enc(`${SECRET}-other`));
    expect((await refusal(hs, other)).message).toBe(TokenError.badSignature);
    const [h, , sig] = (await sign(good, enc(SECRET))).split(".");
    const edited = `${h}.${base64url.encode(JSON.stringify({ ...good, channels: ["*"] }))}.${sig}`;
    expect((await refusal(hs, edited)).message).toBe(TokenError.badSignature);
    const rsForged = await sign(good, (await generateKeyPair("RS256")).privateKey, "RS256");
    expect((await refusal(rs, rsForged)).message).toBe(TokenError.badSignature);
  });

  it("wrong algorithm: HS256 token when only RS256 is configured", async () => {
    expect((await refusal(rs, await sign(good, enc(SECRET)))).message).toBe(TokenError.algorithm);
  });

  it("algorithm confusion: the RS256 public key used as an HS256 secret", async () => {
    const confused = await sign(good, enc(rsaPem));
    expect((await refusal(rs, confused)).message).toBe(TokenError.algorithm);
  });

  it("wrong algorithm: RS256/ES256 token when only HS256 is configured", async () => {
    expect((await refusal(hs, await sign(good, rsa.privateKey, "RS256"))).message).toBe(TokenError.algorithm);
    expect((await refusal(rs, await sign(good, ec.privateKey, "ES256"))).message).toBe(TokenError.algorithm);
  });

  it.each(["none", "None", "NONE"])("alg: %s (unsigned, built by hand)", async (alg) => {
    const unsigned = `${base64url.encode(JSON.stringify({ alg, typ: "JWT" }))}.${base64url.encode(JSON.stringify(good))}.`;
    expect((await refusal(hs, unsigned)).message).toBe(TokenError.algorithm);
    expect((await refusal(rs, unsigned)).message).toBe(TokenError.algorithm);
  });

  it("expired (beyond the clock tolerance); within tolerance still accepted", async () => {
    const expired = await sign({ ...good, exp: NOW_SEC - 6 }, enc(SECRET));
    expect((await refusal(hs, expired)).message).toBe(TokenError.expired);
    const justNow = await sign({ ...good, exp: NOW_SEC - 4 }, enc(SECRET));
    expect((await hs.verify(justNow)).sub).toBe("alice");
  });

  it("not yet valid (nbf); within tolerance still accepted", async () => {
    const early = await sign({ ...good, nbf: NOW_SEC + 60 }, enc(SECRET));
    expect((await refusal(hs, early)).message).toBe(TokenError.notYetValid);
    const almost = await sign({ ...good, nbf: NOW_SEC + 4 }, enc(SECRET));
    expect((await hs.verify(almost)).sub).toBe("alice");
  });

  describe("audience and issuer, when configured", () => {
    const strict = createTokenVerifier(
      { ...hsConfig, audience: "tailcast", issuer: "https://auth.example" },
      { clock },
    );
    const claims = { ...good, aud: "tailcast", iss: "https://auth.example" };

    it("accepts the right ones (aud may be an array)", async () => {
      expect((await strict.verify(await sign(claims, enc(SECRET)))).sub).toBe("alice");
      const multi = { ...claims, aud: ["other", "tailcast"] };
      expect((await strict.verify(await sign(multi, enc(SECRET)))).sub).toBe("alice");
    });

    it("refuses a wrong or missing audience", async () => {
      const wrong = await sign({ ...claims, aud: "other" }, enc(SECRET));
      expect((await refusal(strict, wrong)).message).toBe(TokenError.audience);
      const { aud: _aud, ...noAud } = claims;
      expect((await refusal(strict, await sign(noAud, enc(SECRET)))).message).toBe(TokenError.audience);
    });

    it("refuses a wrong or missing issuer", async () => {
      const wrong = await sign({ ...claims, iss: "https://evil.example" }, enc(SECRET));
      expect((await refusal(strict, wrong)).message).toBe(TokenError.issuer);
      const { iss: _iss, ...noIss } = claims;
      expect((await refusal(strict, await sign(noIss, enc(SECRET)))).message).toBe(TokenError.issuer);
    });

    it("are not checked when not configured", async () => {
      expect((await hs.verify(await sign({ ...good, aud: "x", iss: "y" }, enc(SECRET)))).sub).toBe("alice");
    });
  });

  it("missing or invalid sub", async () => {
    const { sub: _sub, ...noSub } = good;
    expect((await refusal(hs, await sign(noSub, enc(SECRET)))).message).toBe(TokenError.missingSub);
    const numeric = { ...good, sub: 42 } as unknown as JWTPayload;
    expect((await refusal(hs, await sign(numeric, enc(SECRET)))).message).toBe(TokenError.missingSub);
    expect((await refusal(hs, await sign({ ...good, sub: "" }, enc(SECRET)))).message).toBe(
      TokenError.missingSub,
    );
  });

  it("missing exp: tokens that never expire are refused", async () => {
    const { exp: _exp, ...noExp } = good;
    expect((await refusal(hs, await sign(noExp, enc(SECRET)))).message).toBe(TokenError.missingExp);
  });

  it("missing channels claim", async () => {
    const { channels: _c, ...noChannels } = good;
    expect((await refusal(hs, await sign(noChannels, enc(SECRET)))).message).toBe(TokenError.missingChannels);
  });

  it.each<[string, unknown]>([
    ["a string", "chat:*"],
    ["a number in the array", [1]],
    ["a bad pattern", ["ok", "a*b"]],
    ["an empty pattern", [""]],
    ["an object", { 0: "chat:*" }],
    ["null", null],
  ])("invalid channels claim: %s", async (_name, channels) => {
    const token = await sign({ ...good, channels }, enc(SECRET));
    expect((await refusal(hs, token)).message).toBe(TokenError.invalidChannels);
  });
});

describe("JWKS (key set injected: unit tests make no network calls)", () => {
  it("verifies by kid, and refuses a kid it does not know", async () => {
    const jwk = { ...(await exportJWK(rsa.publicKey)), kid: "k1", alg: "RS256" };
    const verifier = createTokenVerifier(
      {
        jwksUrl: "https://auth.example/.well-known/jwks.json",
        algorithms: ["RS256", "ES256"],
        clockToleranceSec: 5,
      },
      { clock, jwks: createLocalJWKSet({ keys: [jwk] }) },
    );
    expect((await verifier.verify(await sign(good, rsa.privateKey, "RS256", { kid: "k1" }))).sub).toBe(
      "alice",
    );
    const unknown = await sign(good, rsa.privateKey, "RS256", { kid: "k2" });
    expect((await refusal(verifier, unknown)).message).toBe(TokenError.unknownKey);
    expect((await refusal(verifier, await sign(good, enc(SECRET)))).message).toBe(TokenError.algorithm);
  });
});

describe("mapJoseError", () => {
  it.each([
    [{ code: "ERR_JWKS_TIMEOUT" }, TokenError.keysUnavailable],
    [{ code: "ERR_JWKS_INVALID" }, TokenError.keysUnavailable],
    [
      { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "typ", reason: "check_failed" },
      TokenError.invalidClaims,
    ],
    [new TypeError("fetch failed"), TokenError.invalid],
    ["a string", TokenError.invalid],
  ])("%j → %s", (err, message) => {
    const mapped = mapJoseError(err);
    expect(mapped.code).toBe(ErrorCode.unauthorized);
    expect(mapped.message).toBe(message);
  });
});

describe("createTokenVerifier refuses unsafe configs built in code", () => {
  it.each<[string, JwtConfig]>([
    ["no key source", { algorithms: ["HS256"], clockToleranceSec: 0 }],
    ["short secret", { secret: "short", algorithms: ["HS256"], clockToleranceSec: 0 }],
    ["secret with RS256", { secret: SECRET, algorithms: ["RS256"], clockToleranceSec: 0 }],
    ["no algorithms", { secret: SECRET, algorithms: [], clockToleranceSec: 0 }],
    [
      "two sources",
      { secret: SECRET, jwksUrl: "https://a.example/jwks", algorithms: ["HS256"], clockToleranceSec: 0 },
    ],
  ])("%s", (_name, config) => {
    expect(() => createTokenVerifier(config)).toThrow(
      expect.objectContaining({ code: ErrorCode.invalidConfig }),
    );
  });

  it("a public key with HS256", () => {
    expect(() =>
      createTokenVerifier({ publicKey: rsaPem, algorithms: ["HS256"], clockToleranceSec: 0 }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.invalidConfig }));
  });
});
