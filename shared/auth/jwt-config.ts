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
import { ErrorCode, TailcastError } from "../errors.ts";
import { type ReadText, readTextFile } from "./api-keys.ts";

type Env = Record<string, string | undefined>;

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

function invalid(message: string, cause?: unknown): TailcastError {
  return new TailcastError(ErrorCode.invalidConfig, `Invalid configuration: ${message}`, { cause });
}

const opt = (v: string | undefined): string | undefined => {
  const t = v?.trim();
  return t === undefined || t === "" ? undefined : t;
};

/** The algorithms a PEM public key can verify; throws `invalid_config` for anything else. */
export function publicKeyAlgorithms(pem: string): JwtAlgorithm[] {
  let key: KeyObject;
  if (/PRIVATE KEY/.test(pem)) {
    // createPublicKey would quietly derive the public half: refuse, a private key has no place here.
    throw invalid("TAILCAST_JWT_PUBLIC_KEY(_FILE) holds a private key; give the public key (PEM) instead.");
  }
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw invalid(
      "TAILCAST_JWT_PUBLIC_KEY(_FILE) is not a PEM public key (-----BEGIN PUBLIC KEY-----).",
      err,
    );
  }
  if (key.asymmetricKeyType === "rsa") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048)
      throw invalid(`TAILCAST_JWT_PUBLIC_KEY(_FILE) is a ${bits}-bit RSA key; use at least 2048.`);
    return ["RS256"];
  }
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return ["ES256"];
  }
  throw invalid("TAILCAST_JWT_PUBLIC_KEY(_FILE) must be an RSA key (RS256) or an EC P-256 key (ES256).");
}

function parseAlgorithms(raw: string): JwtAlgorithm[] {
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const known: readonly string[] = JWT_ALGORITHMS;
  const algorithms: JwtAlgorithm[] = [];
  for (const name of names) {
    if (!known.includes(name)) {
      throw invalid(
        `TAILCAST_JWT_ALGORITHMS: ${JSON.stringify(name.slice(0, 40))} is not one of ${JWT_ALGORITHMS.join(", ")}.`,
      );
    }
    if (!algorithms.includes(name as JwtAlgorithm)) algorithms.push(name as JwtAlgorithm);
  }
  if (algorithms.length === 0) throw invalid("TAILCAST_JWT_ALGORITHMS must list at least one algorithm.");
  return algorithms;
}

function parseJwksUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid("TAILCAST_JWT_JWKS_URL is not a URL.");
  }
  const local = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  // Keys fetched in clear could be swapped by anyone on the path, and then any token would verify.
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
    throw invalid("TAILCAST_JWT_JWKS_URL must use https (http only for localhost).");
  }
  return url.href;
}

/** Names of the JWT variables that are set, to catch half-done configuration. */
const JWT_VARS = [
  "TAILCAST_JWT_SECRET",
  "TAILCAST_JWT_PUBLIC_KEY",
  "TAILCAST_JWT_PUBLIC_KEY_FILE",
  "TAILCAST_JWT_JWKS_URL",
  "TAILCAST_JWT_ALGORITHMS",
  "TAILCAST_JWT_AUDIENCE",
  "TAILCAST_JWT_ISSUER",
  "TAILCAST_JWT_CLOCK_TOLERANCE_SEC",
] as const;

/**
 * JWT config from the environment, or undefined when no TAILCAST_JWT_* variable is set (mode.ts
 * decides whether that is allowed). Options without a key source are an error, not "off".
 */
export function loadJwtConfig(env: Env, readText: ReadText = readTextFile): JwtConfig | undefined {
  if (JWT_VARS.every((name) => opt(env[name]) === undefined)) return undefined;
  // The secret is used byte for byte (surrounding spaces are key material); blank counts as unset.
  const secret = opt(env.TAILCAST_JWT_SECRET) === undefined ? undefined : env.TAILCAST_JWT_SECRET;
  const inlinePem = opt(env.TAILCAST_JWT_PUBLIC_KEY);
  const pemFile = opt(env.TAILCAST_JWT_PUBLIC_KEY_FILE);
  const jwksRaw = opt(env.TAILCAST_JWT_JWKS_URL);
  const sources = [secret, inlinePem, pemFile, jwksRaw].filter((s) => s !== undefined).length;
  if (sources !== 1) {
    throw invalid(
      `set exactly one of TAILCAST_JWT_SECRET, TAILCAST_JWT_PUBLIC_KEY, TAILCAST_JWT_PUBLIC_KEY_FILE or TAILCAST_JWT_JWKS_URL (${sources} set).`,
    );
  }

  const config: JwtConfig = { algorithms: [], clockToleranceSec: DEFAULT_CLOCK_TOLERANCE_SEC };
  if (secret !== undefined) config.secret = secret;
  else if (jwksRaw !== undefined) config.jwksUrl = parseJwksUrl(jwksRaw);
  else if (inlinePem !== undefined) {
    // A PEM is multi-line; many env files and secret stores only hold one line, with `\n` escapes.
    config.publicKey = inlinePem.replace(/\\n/g, "\n");
  } else {
    const path = pemFile as string;
    try {
      config.publicKey = readText(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw invalid(`cannot read TAILCAST_JWT_PUBLIC_KEY_FILE ${JSON.stringify(path)} (${reason}).`, err);
    }
  }
  const algorithmsRaw = opt(env.TAILCAST_JWT_ALGORITHMS);
  config.algorithms =
    algorithmsRaw === undefined ? allowedAlgorithms(config) : parseAlgorithms(algorithmsRaw);

  const audience = opt(env.TAILCAST_JWT_AUDIENCE);
  const issuer = opt(env.TAILCAST_JWT_ISSUER);
  if (audience !== undefined) config.audience = audience;
  if (issuer !== undefined) config.issuer = issuer;

  const toleranceRaw = opt(env.TAILCAST_JWT_CLOCK_TOLERANCE_SEC);
  if (toleranceRaw !== undefined) {
    const tolerance = Number(toleranceRaw);
    if (!/^\d+$/.test(toleranceRaw) || tolerance > 300) {
      throw invalid("TAILCAST_JWT_CLOCK_TOLERANCE_SEC must be a whole number of seconds from 0 to 300.");
    }
    config.clockToleranceSec = tolerance;
  }
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
  if (sources !== 1) {
    throw invalid(
      `set exactly one of TAILCAST_JWT_SECRET, TAILCAST_JWT_PUBLIC_KEY, TAILCAST_JWT_PUBLIC_KEY_FILE or TAILCAST_JWT_JWKS_URL (${sources} set).`,
    );
  }
  if (secret !== undefined && Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    throw invalid(`TAILCAST_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes.`);
  }
  if (jwksUrl !== undefined) parseJwksUrl(jwksUrl);
  const allowed = allowedAlgorithms(config);
  if (config.algorithms.length === 0)
    throw invalid("TAILCAST_JWT_ALGORITHMS must list at least one algorithm.");
  const refused = config.algorithms.filter((a) => !allowed.includes(a));
  if (refused.length > 0) {
    throw invalid(
      `TAILCAST_JWT_ALGORITHMS: ${refused.join(", ")} cannot be used with the configured key (allowed: ${allowed.join(", ")}).`,
    );
  }
  const tolerance = config.clockToleranceSec;
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 300) {
    throw invalid("TAILCAST_JWT_CLOCK_TOLERANCE_SEC must be a whole number of seconds from 0 to 300.");
  }
}
