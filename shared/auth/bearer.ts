/**
 * `Authorization: Bearer <credential>` (RFC 6750 §2.1): the scheme is case-insensitive, one or more
 * spaces separate it from the credential, which holds no white space. Pure.
 */
const BEARER_RE = /^Bearer +(\S+) *$/i;

/** The credential of a Bearer header, or undefined when the header is missing, blank or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  return BEARER_RE.exec(header?.trim() ?? "")?.[1];
}
