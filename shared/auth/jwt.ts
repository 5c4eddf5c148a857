/**
 * Subscriber tokens: JWTs verified with jose against the configured key and pinned algorithms. Every
 * failure becomes `unauthorized` with a short, stable message chosen from jose's error `code` (and the
 * failed claim's name), never from jose's message text and never echoing the token or its claims.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { ErrorCode, TailcastError } from "../errors.ts";
import { type ChannelMatcher, compilePatterns, isChannelPattern } from "./channel-patterns.ts";
import { checkJwtConfig, type JwtConfig } from "./jwt-config.ts";

export type { JwtAlgorithm, JwtConfig } from "./jwt-config.ts";
export { loadJwtConfig } from "./jwt-config.ts";

/** Who is subscribing, once their token is verified. */
export interface Subscriber {
  sub: string;
  channels: ChannelMatcher;
  /** `exp` in milliseconds since the epoch: close or ask for `refresh` before then. */
  expiresAt: number;
}

export interface TokenVerifier {
  /** Resolves the subscriber or rejects with TailcastError `unauthorized`. */
  verify(token: unknown): Promise<Subscriber>;
}

export interface TokenVerifierOptions {
  /** Milliseconds since the epoch; defaults to Date.now. Tests pin time with it. */
  clock?: () => number;
  /** Replaces the remote JWKS fetcher (e.g. jose's createLocalJWKSet in tests). */
  jwks?: JWTVerifyGetKey;
}

/** Stable messages, part of the contract clients and tests rely on. */
export const TokenError = Object.freeze({
  missing: "Missing token: connect with `auth: { token }`.",
  malformed: "Malformed token.",
  expired: "Token expired.",
  notYetValid: "Token not valid yet.",
  badSignature: "Invalid token signature.",
  algorithm: "Token algorithm not allowed.",
  unknownKey: "No key matches the token.",
  keysUnavailable: "Token keys are unavailable; try again later.",
  audience: "Token audience not accepted.",
  issuer: "Token issuer not accepted.",
  missingSub: "Token is missing the sub claim.",
  missingExp: "Token is missing the exp claim.",
  missingChannels: "Token is missing the channels claim.",
  invalidChannels: "Token channels claim must be an array of channel patterns.",
  invalidClaims: "Token claims are invalid.",
  invalid: "Invalid token.",
} as const);

// Far above any sane token; bounds the work an anonymous client can ask of us.
const MAX_TOKEN_LENGTH = 16 * 1024;

function unauthorized(message: string, cause?: unknown): TailcastError {
  return new TailcastError(ErrorCode.unauthorized, message, { cause });
}

function claimMessage(claim: unknown, reason: unknown): string {
  if (claim === "nbf") return TokenError.notYetValid;
  if (claim === "aud") return TokenError.audience;
  if (claim === "iss") return TokenError.issuer;
  if (claim === "sub" && reason === "missing") return TokenError.missingSub;
  if (claim === "exp" && reason === "missing") return TokenError.missingExp;
  return TokenError.invalidClaims;
}

/** Maps anything jwtVerify throws to `unauthorized`, by jose's stable `code`. */
export function mapJoseError(err: unknown): TailcastError {
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    code?: unknown;
    claim?: unknown;
    reason?: unknown;
  };
  switch (e.code) {
    case "ERR_JWT_EXPIRED":
      return unauthorized(TokenError.expired);
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return unauthorized(claimMessage(e.claim, e.reason));
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return unauthorized(TokenError.badSignature);
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return unauthorized(TokenError.algorithm);
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return unauthorized(TokenError.malformed);
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return unauthorized(TokenError.unknownKey);
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
    case "ERR_JWK_INVALID":
      // Our key endpoint failed, not the client; kept for logs as the cause.
      return unauthorized(TokenError.keysUnavailable, err);
    default:
      // Not a JOSE error (e.g. a key of the wrong type for the algorithm, a network failure): keep the
      // cause for logs, tell the client nothing more.
      return unauthorized(TokenError.invalid, err);
  }
}

/** Checks the claims jose does not know about (and the types of those it only checks for presence). */
function toSubscriber(payload: JWTPayload): Subscriber {
  if (typeof payload.sub !== "string" || payload.sub.length === 0) {
    throw unauthorized(TokenError.missingSub);
  }
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp)) {
    throw unauthorized(TokenError.missingExp);
  }
  const channels = payload.channels;
  if (channels === undefined) throw unauthorized(TokenError.missingChannels);
  if (!Array.isArray(channels) || !channels.every(isChannelPattern)) {
    throw unauthorized(TokenError.invalidChannels);
  }
  return { sub: payload.sub, channels: compilePatterns(channels), expiresAt: payload.exp * 1000 };
}

type VerifyKey = KeyObject | Uint8Array | JWTVerifyGetKey;

function resolveKey(config: JwtConfig, options: TokenVerifierOptions): VerifyKey {
  if (config.secret !== undefined) return new TextEncoder().encode(config.secret);
  if (config.publicKey !== undefined) return createPublicKey(config.publicKey);
  if (options.jwks !== undefined) return options.jwks;
  // jose caches the key set and refetches on an unknown `kid` (with a cooldown), so key rotation at
  // the issuer needs no restart here.
  return createRemoteJWKSet(new URL(config.jwksUrl as string));
}

/** Throws `invalid_config` at once for a config that could not verify safely. */
export function createTokenVerifier(config: JwtConfig, options: TokenVerifierOptions = {}): TokenVerifier {
  checkJwtConfig(config);
  const key = resolveKey(config, options);
  const algorithms = [...config.algorithms];
  const clock = options.clock ?? Date.now;
  return {
    async verify(token) {
      if (typeof token !== "string" || token.length === 0) throw unauthorized(TokenError.missing);
      if (token.length > MAX_TOKEN_LENGTH) throw unauthorized(TokenError.malformed);
      let payload: JWTPayload;
      try {
        const result = await jwtVerify(token, key, {
          algorithms,
          requiredClaims: ["sub", "exp"],
          clockTolerance: config.clockToleranceSec,
          currentDate: new Date(clock()),
          ...(config.audience === undefined ? {} : { audience: config.audience }),
          ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
        });
        payload = result.payload;
      } catch (err) {
        throw mapJoseError(err);
      }
      return toSubscriber(payload);
    },
  };
}
