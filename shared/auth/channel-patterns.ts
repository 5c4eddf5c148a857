/**
 * Channel patterns: the scopes of API keys (what a publisher may write) and of JWT `channels` claims
 * (what a subscriber may read). Pure.
 *
 * Grammar: an exact channel name (same charset as shared/message.ts), or a prefix followed by a single
 * trailing `*`. The `*` stands for ONE OR MORE characters, so `chat:*` allows `chat:x` and `chat:a:b`
 * but neither `chat` nor `chat:`; `*` alone allows every channel. A prefix without a separator is
 * allowed but broad: `chat*` also allows `chatroom`, so scopes should normally end in `:`.
 *
 * Matching is plain string comparison (a Set for exact names, `startsWith` for prefixes): no RegExp is
 * ever built from configuration or token input, so there is nothing to inject.
 */
import { ErrorCode, TailcastError } from "../errors.ts";

export interface ChannelMatcher {
  /** True when at least one pattern allows `channel`. */
  allows(channel: string): boolean;
  /** The patterns as given (deduplicated), for logs and diagnostics. */
  readonly patterns: readonly string[];
}

/** Upper bound of TAILCAST_MAX_CHANNEL_LENGTH plus the `*`: no valid channel can need a longer pattern. */
export const MAX_PATTERN_LENGTH = 1025;

// Fixed literals, never built from input. The prefix of a wildcard may be empty (`*`), otherwise it
// follows the channel rule: the first character is not a symbol other than `_`.
const EXACT_RE = /^[A-Za-z0-9_][A-Za-z0-9_:.@=+-]*$/;
const PREFIX_RE = /^(?:[A-Za-z0-9_][A-Za-z0-9_:.@=+-]*)?\*$/;

/** Why `pattern` is not a valid channel pattern, or undefined when it is. */
export function patternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== "string" || pattern.length === 0) return "must be a non-empty string";
  if (pattern.length > MAX_PATTERN_LENGTH) return `must be at most ${MAX_PATTERN_LENGTH} characters`;
  if (EXACT_RE.test(pattern) || PREFIX_RE.test(pattern)) return undefined;
  return pattern.includes("*") && !pattern.endsWith("*")
    ? "may contain `*` only once, as its last character"
    : "may contain only letters, digits and _ : . @ = + - (not starting with a symbol other than _), plus one trailing *";
}

export function isChannelPattern(pattern: unknown): pattern is string {
  return patternProblem(pattern) === undefined;
}

/**
 * Compiles validated patterns into a matcher. Throws `invalid_config` naming the first bad pattern:
 * patterns come from configuration; callers holding untrusted input (JWT claims) check
 * `isChannelPattern` first and report their own error.
 */
export function compilePatterns(patterns: readonly string[]): ChannelMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let all = false;
  for (const [i, pattern] of patterns.entries()) {
    const problem = patternProblem(pattern);
    if (problem !== undefined) {
      throw new TailcastError(
        ErrorCode.invalidConfig,
        `Channel pattern ${i} ${JSON.stringify(String(pattern).slice(0, 80))} ${problem}.`,
      );
    }
    if (pattern === "*") all = true;
    else if (pattern.endsWith("*")) prefixes.push(pattern.slice(0, -1));
    else exact.add(pattern);
  }
  const unique = Object.freeze([...new Set(patterns)]);
  return Object.freeze({
    patterns: unique,
    allows(channel: string): boolean {
      // A channel never contains `*`; refusing it here keeps a pattern from matching itself as a name.
      if (typeof channel !== "string" || channel.length === 0 || channel.includes("*")) return false;
      if (all || exact.has(channel)) return true;
      for (const prefix of prefixes) {
        if (channel.length > prefix.length && channel.startsWith(prefix)) return true;
      }
      return false;
    },
  });
}

export type ChannelAction = "publish" | "subscribe";

/**
 * Throws `forbidden` unless `principal` (a publisher or a subscriber) may act on `channel`. The message
 * names the channel, never the credential.
 */
export function authorizeChannel(
  principal: { readonly channels: ChannelMatcher },
  channel: string,
  action: ChannelAction = "publish",
): void {
  if (principal.channels.allows(channel)) return;
  const who = action === "publish" ? "This API key" : "This token";
  throw new TailcastError(
    ErrorCode.forbidden,
    `${who} does not allow you to ${action} to channel ${JSON.stringify(String(channel).slice(0, 200))}.`,
  );
}
