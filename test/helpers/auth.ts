/** Real credentials for auth tests: API keys (with their hashed config) and HS256 subscriber tokens. */
import { SignJWT } from "jose";
import { generateApiKey, hashApiKey } from "../../shared/auth/api-keys.ts";

export const JWT_SECRET = "integration-test-secret-0123456789abcdef";

export interface TestKey {
  key: string;
  entry: { id: string; sha256: string; channels: string[]; ratePerSecond?: number; burst?: number };
}

export function testKey(
  id: string,
  channels: string[],
  rate?: { perSecond: number; burst: number },
): TestKey {
  const key = generateApiKey();
  return {
    key,
    entry: {
      id,
      sha256: hashApiKey(key),
      channels,
      ...(rate ? { ratePerSecond: rate.perSecond, burst: rate.burst } : {}),
    },
  };
}

/** Environment that turns auth on with these keys and the test JWT secret. */
export function authEnv(keys: TestKey[]): Record<string, string> {
  return {
    TAILCAST_AUTH: "on",
    TAILCAST_API_KEYS: JSON.stringify(keys.map((k) => k.entry)),
    TAILCAST_JWT_SECRET: JWT_SECRET,
  };
}

export async function token(
  claims: { sub?: string; channels?: unknown; exp?: number; nbf?: number; aud?: string },
  options: { secret?: string; alg?: "HS256" | "HS384" } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { sub = "alice", exp = now + 600, ...rest } = claims;
  return new SignJWT({ ...rest })
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setSubject(sub)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

/** An unsigned token (`alg: none`), built by hand as an attacker would. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
}
