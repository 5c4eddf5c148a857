/**
 * Subscriber JWT configuration from the environment, validated once at start. Exactly one key source:
 *   TAILCAST_JWT_SECRET            HS256 shared secret (UTF-8, at least 32 bytes)
 *   TAILCAST_JWT_PUBLIC_KEY        PEM public key text (RS256 or ES256); `\n` escapes are accepted
 *   TAILCAST_JWT_PUBLIC_KEY_FILE   path to that PEM
 *   TAILCAST_JWT_JWKS_URL          JWKS endpoint (https, or http on localhost for development)
 * Plus TAILCAST_JWT_ALGORITHMS (comma list; default derived from the key source),
 * TAILCAST_JWT_AUDIENCE, TAILCAST_JWT_ISSUER (checked when set), TAILCAST_JWT_CLOCK_TOLERANCE_SEC (5).
 *
 * The algorithm list is the defence against `alg: none` and algorithm confusion: a secret allows only
 * HS256 and a public key or JWKS never does, so a token "signed" with a public key as HMAC secret is
 * refused before any signature check.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { z } from "zod";
import { configError, type Env, int, list, readEnv } from "../env.ts";
import { type ReadText, readTextFile } from "./api-keys.ts";

export const JWT_ALGORITHMS = ["HS256", "RS256", "ES256"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export interface JwtConfig {
  /** HS256 shared secret. */
  secret?: string;
  /** PEM public key (RS256 or ES256). */
  publicKey?: string;
  jwksUrl?: string;
  algorithms: JwtAlgorithm[];
  audience?: string;
  issuer?: string;
  clockToleranceSec: number;
}

export const DEFAULT_CLOCK_TOLERANCE_SEC = 5;
export const MIN_SECRET_BYTES = 32;
const MAX_CLOCK_TOLERANCE_SEC = 300;

const KEY_SOURCES =
  "TAILCAST_JWT_SECRET, TAILCAST_JWT_PUBLIC_KEY, TAILCAST_JWT_PUBLIC_KEY_FILE or TAILCAST_JWT_JWKS_URL";
const exactlyOneSource = (n: number) => `set exactly one of ${KEY_SOURCES} (${n} set).`;
const secretTooShort = `must be at least ${MIN_SECRET_BYTES} bytes.`;
const badTolerance = `must be a whole number of seconds from 0 to ${MAX_CLOCK_TOLERANCE_SEC}.`;

/** Why `raw` cannot be the JWKS URL, or undefined when it can. */
function jwksUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL.";
  }
  const local = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  // Keys fetched in clear could be swapped by anyone on the path, and then any token would verify.
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
    return "must use https (http only for localhost).";
  }
  return undefined;
}

const trimmed = z.string().trim();
const jwtSchema = z
  .object({
    // Used byte for byte: surrounding spaces are key material.
    TAILCAST_JWT_SECRET: z
      .string()
      .refine((s) => Buffer.byteLength(s, "utf8") >= MIN_SECRET_BYTES, secretTooShort)
      .optional(),
    TAILCAST_JWT_PUBLIC_KEY: trimmed.optional(),
    TAILCAST_JWT_PUBLIC_KEY_FILE: trimmed.optional(),
    TAILCAST_JWT_JWKS_URL: trimmed
      .superRefine((raw, ctx) => {
        const problem = jwksUrlProblem(raw);
        if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    TAILCAST_JWT_ALGORITHMS: list
      .pipe(
        z
          .array(z.enum(JWT_ALGORITHMS, { error: `must list only ${JWT_ALGORITHMS.join(", ")}` }))
          .min(1, "must list at least one algorithm."),
      )
      .transform((names) => [...new Set(names)])
      .optional(),
    TAILCAST_JWT_AUDIENCE: trimmed.optional(),
    TAILCAST_JWT_ISSUER: trimmed.optional(),
    TAILCAST_JWT_CLOCK_TOLERANCE_SEC: int(0, MAX_CLOCK_TOLERANCE_SEC, badTolerance).default(
      DEFAULT_CLOCK_TOLERANCE_SEC,
    ),
  })
  .superRefine((e, ctx) => {
    const sources = [
      e.TAILCAST_JWT_SECRET,
      e.TAILCAST_JWT_PUBLIC_KEY,
      e.TAILCAST_JWT_PUBLIC_KEY_FILE,
      e.TAILCAST_JWT_JWKS_URL,
    ].filter((v) => v !== undefined).length;
    if (sources !== 1) ctx.addIssue({ code: "custom", message: exactlyOneSource(sources) });
  });

/** The algorithms a PEM public key can verify; throws `invalid_config` (naming `variable`) for anything else. */
export function publicKeyAlgorithms(pem: string, variable = "TAILCAST_JWT_PUBLIC_KEY"): JwtAlgorithm[] {
  let key: KeyObject;
  if (/PRIVATE KEY/.test(pem)) {
    // createPublicKey would quietly derive the public half: refuse, a private key has no place here.
    throw configError(variable, "holds a private key; give the public key (PEM) instead.");
  }
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw configError(variable, "is not a PEM public key (-----BEGIN PUBLIC KEY-----).", err);
  }
  if (key.asymmetricKeyType === "rsa") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw configError(variable, `is a ${bits}-bit RSA key; use at least 2048.`);
    return ["RS256"];
  }
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return ["ES256"];
  }
  throw configError(variable, "must be an RSA key (RS256) or an EC P-256 key (ES256).");
}

/** Names of the JWT variables, to tell "not configured" from half-done configuration. */
const JWT_VARS = Object.keys(jwtSchema.shape);

/**
 * JWT config from the environment, or undefined when no TAILCAST_JWT_* variable is set (mode.ts
 * decides whether that is allowed). Options without a key source are an error, not "off".
 */
export function loadJwtConfig(env: Env, readText: ReadText = readTextFile): JwtConfig | undefined {
  if (JWT_VARS.every((name) => (env[name]?.trim() ?? "") === "")) return undefined;
  const e = readEnv(jwtSchema, env);
  const config: JwtConfig = { algorithms: [], clockToleranceSec: e.TAILCAST_JWT_CLOCK_TOLERANCE_SEC };
  let keyAlgorithms: JwtAlgorithm[] = ["RS256", "ES256"];
  if (e.TAILCAST_JWT_SECRET !== undefined) {
    config.secret = e.TAILCAST_JWT_SECRET;
    keyAlgorithms = ["HS256"];
  } else if (e.TAILCAST_JWT_JWKS_URL !== undefined) {
    config.jwksUrl = e.TAILCAST_JWT_JWKS_URL;
  } else if (e.TAILCAST_JWT_PUBLIC_KEY !== undefined) {
    // A PEM is multi-line; many env files and secret stores only hold one line, with `\n` escapes.
    config.publicKey = e.TAILCAST_JWT_PUBLIC_KEY.replace(/\\n/g, "\n");
    keyAlgorithms = publicKeyAlgorithms(config.publicKey);
  } else {
    const path = e.TAILCAST_JWT_PUBLIC_KEY_FILE as string;
    try {
      config.publicKey = readText(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw configError(
        "TAILCAST_JWT_PUBLIC_KEY_FILE",
        `cannot read ${JSON.stringify(path)} (${reason}).`,
        err,
      );
    }
    keyAlgorithms = publicKeyAlgorithms(config.publicKey, "TAILCAST_JWT_PUBLIC_KEY_FILE");
  }
  config.algorithms = e.TAILCAST_JWT_ALGORITHMS ?? keyAlgorithms;
  if (e.TAILCAST_JWT_AUDIENCE !== undefined) config.audience = e.TAILCAST_JWT_AUDIENCE;
  if (e.TAILCAST_JWT_ISSUER !== undefined) config.issuer = e.TAILCAST_JWT_ISSUER;
  checkJwtConfig(config);
  return config;
}

/** The algorithms the configured key source can verify (see the module comment on confusion). */
export function allowedAlgorithms(config: JwtConfig): JwtAlgorithm[] {
  if (config.secret !== undefined) return ["HS256"];
  if (config.publicKey !== undefined) return publicKeyAlgorithms(config.publicKey);
  return ["RS256", "ES256"];
}

/**
 * Re-checks the invariants of a config however it was built (env or code): one key source, a long
 * enough secret, and only algorithms that key source can verify. Throws `invalid_config`.
 */
export function checkJwtConfig(config: JwtConfig): void {
  const { secret, publicKey, jwksUrl } = config;
  const sources = [secret, publicKey, jwksUrl].filter((s) => s !== undefined).length;
  if (sources !== 1) throw configError(null, exactlyOneSource(sources));
  if (secret !== undefined && Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    throw configError("TAILCAST_JWT_SECRET", secretTooShort);
  }
  const urlProblem = jwksUrl === undefined ? undefined : jwksUrlProblem(jwksUrl);
  if (urlProblem !== undefined) throw configError("TAILCAST_JWT_JWKS_URL", urlProblem);
  const allowed = allowedAlgorithms(config);
  if (config.algorithms.length === 0)
    throw configError("TAILCAST_JWT_ALGORITHMS", "must list at least one algorithm.");
  const refused = config.algorithms.filter((a) => !allowed.includes(a));
  if (refused.length > 0) {
    throw configError(
      "TAILCAST_JWT_ALGORITHMS",
      `${refused.join(", ")} cannot be used with the configured key (allowed: ${allowed.join(", ")}).`,
    );
  }
  const tolerance = config.clockToleranceSec;
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > MAX_CLOCK_TOLERANCE_SEC) {
    throw configError("TAILCAST_JWT_CLOCK_TOLERANCE_SEC", badTolerance);
  }
}
