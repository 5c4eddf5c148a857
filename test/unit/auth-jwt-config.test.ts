import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CLOCK_TOLERANCE_SEC,
  loadJwtConfig,
  publicKeyAlgorithms,
} from "../../shared/auth/jwt-config.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";

type Env = Record<string, string | undefined>;

const SECRET = "0123456789abcdef0123456789abcdef";
const pem = (type: "rsa" | "ec", opts: Record<string, unknown>) => {
  const { publicKey, privateKey } = generateKeyPairSync(type as "rsa", opts as { modulusLength: number });
  return {
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
};
const rsa = pem("rsa", { modulusLength: 2048 });
const ec = pem("ec", { namedCurve: "P-256" });
const noFiles = (): string => {
  throw new Error("no file reads expected");
};

function refused(env: Env, ...fragments: string[]): TailcastError {
  try {
    loadJwtConfig(env, noFiles);
  } catch (err) {
    expect(err).toBeInstanceOf(TailcastError);
    const e = err as TailcastError;
    expect(e.code).toBe(ErrorCode.invalidConfig);
    for (const f of fragments) expect(e.message).toContain(f);
    return e;
  }
  throw new Error(`expected ${JSON.stringify(Object.keys(env))} to be refused`);
}

describe("loadJwtConfig", () => {
  it("is undefined when no TAILCAST_JWT_* variable is set (mode.ts decides)", () => {
    expect(loadJwtConfig({}, noFiles)).toBeUndefined();
    expect(loadJwtConfig({ TAILCAST_JWT_SECRET: "", TAILCAST_JWT_AUDIENCE: " " }, noFiles)).toBeUndefined();
  });

  it("HS256 secret: algorithms default to HS256, tolerance to 5 s", () => {
    expect(loadJwtConfig({ TAILCAST_JWT_SECRET: SECRET }, noFiles)).toEqual({
      secret: SECRET,
      algorithms: ["HS256"],
      clockToleranceSec: DEFAULT_CLOCK_TOLERANCE_SEC,
    });
  });

  it("refuses a secret under 32 bytes without printing it", () => {
    const err = refused({ TAILCAST_JWT_SECRET: "too-short-secret" }, "TAILCAST_JWT_SECRET", "32 bytes");
    expect(err.message).not.toContain("too-short-secret");
  });

  it("RSA and EC public keys: algorithm from the key type", () => {
    expect(loadJwtConfig({ TAILCAST_JWT_PUBLIC_KEY: rsa.publicPem }, noFiles)?.algorithms).toEqual(["RS256"]);
    expect(loadJwtConfig({ TAILCAST_JWT_PUBLIC_KEY: ec.publicPem }, noFiles)?.algorithms).toEqual(["ES256"]);
  });

  it("accepts a one-line PEM with \\n escapes", () => {
    const oneLine = rsa.publicPem.trim().replace(/\n/g, "\\n");
    const config = loadJwtConfig({ TAILCAST_JWT_PUBLIC_KEY: oneLine }, noFiles);
    expect(config?.publicKey).toBe(rsa.publicPem.trim());
  });

  it("reads TAILCAST_JWT_PUBLIC_KEY_FILE through the injected reader", () => {
    const config = loadJwtConfig({ TAILCAST_JWT_PUBLIC_KEY_FILE: "/keys/jwt.pem" }, (path) => {
      expect(path).toBe("/keys/jwt.pem");
      return ec.publicPem;
    });
    expect(config?.algorithms).toEqual(["ES256"]);
    const err = (() => {
      try {
        loadJwtConfig({ TAILCAST_JWT_PUBLIC_KEY_FILE: "/nope.pem" }, () => {
          throw Object.assign(new Error("x"), { code: "ENOENT" });
        });
      } catch (e) {
        return e as TailcastError;
      }
      throw new Error("expected a refusal");
    })();
    expect(err.code).toBe(ErrorCode.invalidConfig);
    expect(err.message).toContain('"/nope.pem" (ENOENT)');
  });

  it("refuses private keys, garbage, weak RSA and other curves", () => {
    refused({ TAILCAST_JWT_PUBLIC_KEY: rsa.privatePem }, "private key");
    refused({ TAILCAST_JWT_PUBLIC_KEY: "not a pem" }, "PEM public key");
    const weak = pem("rsa", { modulusLength: 1024 });
    refused({ TAILCAST_JWT_PUBLIC_KEY: weak.publicPem }, "1024-bit", "2048");
    const p384 = pem("ec", { namedCurve: "P-384" });
    refused({ TAILCAST_JWT_PUBLIC_KEY: p384.publicPem }, "P-256");
  });

  it("JWKS URL: https, or http on localhost only", () => {
    const config = loadJwtConfig(
      { TAILCAST_JWT_JWKS_URL: "https://auth.example/.well-known/jwks.json" },
      noFiles,
    );
    expect(config?.jwksUrl).toBe("https://auth.example/.well-known/jwks.json");
    expect(config?.algorithms).toEqual(["RS256", "ES256"]);
    expect(loadJwtConfig({ TAILCAST_JWT_JWKS_URL: "http://localhost:9000/jwks" }, noFiles)?.jwksUrl).toBe(
      "http://localhost:9000/jwks",
    );
    refused({ TAILCAST_JWT_JWKS_URL: "http://auth.example/jwks" }, "https");
    refused({ TAILCAST_JWT_JWKS_URL: "not a url" }, "TAILCAST_JWT_JWKS_URL");
  });

  it("needs exactly one key source", () => {
    refused({ TAILCAST_JWT_AUDIENCE: "tailcast" }, "exactly one", "(0 set)");
    refused({ TAILCAST_JWT_SECRET: SECRET, TAILCAST_JWT_JWKS_URL: "https://a.example/jwks" }, "(2 set)");
    refused({ TAILCAST_JWT_PUBLIC_KEY: rsa.publicPem, TAILCAST_JWT_PUBLIC_KEY_FILE: "/k.pem" }, "(2 set)");
  });

  describe("TAILCAST_JWT_ALGORITHMS", () => {
    it("narrows the default", () => {
      const env = {
        TAILCAST_JWT_JWKS_URL: "https://a.example/jwks",
        TAILCAST_JWT_ALGORITHMS: "ES256, ES256",
      };
      expect(loadJwtConfig(env, noFiles)?.algorithms).toEqual(["ES256"]);
    });

    it("refuses HS256 with a public key or JWKS (algorithm confusion)", () => {
      refused({ TAILCAST_JWT_PUBLIC_KEY: rsa.publicPem, TAILCAST_JWT_ALGORITHMS: "HS256" }, "HS256", "RS256");
      refused(
        { TAILCAST_JWT_JWKS_URL: "https://a.example/jwks", TAILCAST_JWT_ALGORITHMS: "RS256,HS256" },
        "HS256",
      );
    });

    it("refuses RS256 with a secret, ES256 with an RSA key", () => {
      refused({ TAILCAST_JWT_SECRET: SECRET, TAILCAST_JWT_ALGORITHMS: "RS256" }, "RS256", "allowed: HS256");
      refused({ TAILCAST_JWT_PUBLIC_KEY: rsa.publicPem, TAILCAST_JWT_ALGORITHMS: "RS256,ES256" }, "ES256");
    });

    it.each(["none", "hs256", "HS512", ","])("refuses %j", (value) => {
      refused({ TAILCAST_JWT_SECRET: SECRET, TAILCAST_JWT_ALGORITHMS: value }, "TAILCAST_JWT_ALGORITHMS");
    });
  });

  it("audience, issuer and clock tolerance", () => {
    const config = loadJwtConfig(
      {
        TAILCAST_JWT_SECRET: SECRET,
        TAILCAST_JWT_AUDIENCE: "tailcast",
        TAILCAST_JWT_ISSUER: "https://auth.example",
        TAILCAST_JWT_CLOCK_TOLERANCE_SEC: "30",
      },
      noFiles,
    );
    expect(config).toMatchObject({
      audience: "tailcast",
      issuer: "https://auth.example",
      clockToleranceSec: 30,
    });
    for (const bad of ["-1", "1.5", "abc", "301"]) {
      refused({ TAILCAST_JWT_SECRET: SECRET, TAILCAST_JWT_CLOCK_TOLERANCE_SEC: bad }, "CLOCK_TOLERANCE");
    }
  });
});

describe("publicKeyAlgorithms", () => {
  it("maps key types", () => {
    expect(publicKeyAlgorithms(rsa.publicPem)).toEqual(["RS256"]);
    expect(publicKeyAlgorithms(ec.publicPem)).toEqual(["ES256"]);
  });
});
