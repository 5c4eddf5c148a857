/**
 * What never reaches a log line (README "Logs"): values under secret-bearing keys are replaced by pino's
 * `redact` paths (`REDACT_PATHS`); secrets inside text — a URI's userinfo (a MONGODB_URI with a
 * password), an `Authorization`-style `Bearer …` / `Basic …`, a `token=` / `key=` query parameter —
 * are masked by `scrub`, which shared/log.ts applies to every message, field, binding and error.
 */

export const REDACTED = "[Redacted]";

/** Keys whose values are secrets wherever they appear (pino matches keys exactly, so both spellings). */
const SECRET_KEYS = [
  "authorization",
  "Authorization",
  "proxy-authorization",
  "cookie",
  "Cookie",
  "set-cookie",
  "x-api-key",
  "apiKey",
  "api_key",
  "key",
  "token",
  "accessToken",
  "refreshToken",
  "password",
  "secret",
  "jwtSecret",
] as const;

const path = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`);
const member = (key: string) => (key.startsWith("[") ? key : `.${key}`);

/**
 * pino `redact` paths: each secret key at the top level and nested up to three levels (a field's
 * object, its `headers`, an error's properties); pino wildcards match one level each.
 */
export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((k) => {
  const p = path(k);
  return [p, `*${member(p)}`, `*.*${member(p)}`, `*.*.*${member(p)}`];
});

const URI_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'@]*(?:@[^\s/?#"'@]*)*@/gi;
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const QUERY_SECRET = /([?&](?:token|access_token|api_key|apikey|key|password)=)[^&\s#"']+/gi;

/** `text` with every secret-looking part masked. */
export function scrubText(text: string): string {
  if (!text.includes("://") && !/bearer|basic|[?&]/i.test(text)) return text;
  return text
    .replace(URI_USERINFO, `$1${REDACTED}@`)
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`)
    .replace(QUERY_SECRET, `$1${REDACTED}`);
}

const MAX_DEPTH = 8;

/**
 * `value` with every string in it scrubbed: plain objects and arrays are copied (never changed in
 * place: they belong to the caller), anything else (Date, ObjectId, class instances) is kept as is.
 */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubText(value);
  if (value === null || typeof value !== "object" || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}
