/**
 * Secure by default: a component that authenticates publishers or subscribers refuses to start
 * without credentials configured, unless TAILCAST_AUTH=off says explicitly that this is a local
 * development setup. Nothing is ever "off" by accident of a missing variable.
 */
import { z } from "zod";
import { type Env, readEnv } from "../env.ts";
import { ErrorCode, TailcastError } from "../errors.ts";
import { createKeyVerifier, type KeyVerifier, loadApiKeys, type ReadText, readTextFile } from "./api-keys.ts";
import { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions } from "./jwt.ts";
import { loadJwtConfig } from "./jwt-config.ts";

export interface AuthMode {
  publishers: KeyVerifier | "off";
  subscribers: TokenVerifier | "off";
}

export interface AuthModeOptions {
  readText?: ReadText;
  token?: TokenVerifierOptions;
}

const OFF_HINT = "or set TAILCAST_AUTH=off (local development only: anyone can then publish and subscribe).";

/** What a component should log (at warn) at start when auth is off, so it never goes unnoticed. */
export const AUTH_OFF_WARNING =
  "TAILCAST_AUTH=off: authentication is disabled, anyone can publish and subscribe. Local development only.";

const authSchema = z.object({
  TAILCAST_AUTH: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["on", "off"], { error: 'must be "on" (the default) or "off".' }))
    .default("on"),
});

/** True when TAILCAST_AUTH=off; throws `invalid_config` for a value other than on/off. */
export function authDisabled(env: Env): boolean {
  return readEnv(authSchema, env).TAILCAST_AUTH === "off";
}

/** For the ingest function: the API key verifier, "off", or a refusal saying what to set. */
export function requirePublisherAuth(env: Env, options: AuthModeOptions = {}): KeyVerifier | "off" {
  if (authDisabled(env)) return "off";
  const keys = loadApiKeys(env, options.readText ?? readTextFile);
  if (keys === undefined) {
    throw new TailcastError(
      ErrorCode.invalidConfig,
      "Publisher authentication is not configured: set TAILCAST_API_KEYS to a JSON array of " +
        '{ "id", "sha256", "channels" } entries (create one with `npm run keys -- new <id> <pattern...>`) ' +
        `or TAILCAST_API_KEYS_FILE to a file holding it, ${OFF_HINT}`,
    );
  }
  return createKeyVerifier(keys);
}

/** For tailer nodes: the JWT verifier, "off", or a refusal saying what to set. */
export function requireSubscriberAuth(env: Env, options: AuthModeOptions = {}): TokenVerifier | "off" {
  if (authDisabled(env)) return "off";
  const config = loadJwtConfig(env, options.readText ?? readTextFile);
  if (config === undefined) {
    throw new TailcastError(
      ErrorCode.invalidConfig,
      "Subscriber authentication is not configured: set TAILCAST_JWT_SECRET (HS256, at least 32 bytes), " +
        "TAILCAST_JWT_PUBLIC_KEY or TAILCAST_JWT_PUBLIC_KEY_FILE (PEM, RS256/ES256), or TAILCAST_JWT_JWKS_URL, " +
        OFF_HINT,
    );
  }
  return createTokenVerifier(config, options.token);
}

/** Both sides at once (a process that serves both); each missing side refuses to start. */
export function resolveAuthMode(env: Env, options: AuthModeOptions = {}): AuthMode {
  return {
    publishers: requirePublisherAuth(env, options),
    subscribers: requireSubscriberAuth(env, options),
  };
}
