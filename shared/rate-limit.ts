/**
 * Token buckets per key (a publisher id, a client address…). Pure: time comes from the caller or an
 * injected clock, so tests step it without sleeping. Memory is bounded by an LRU cap: the bucket
 * dropped is the least recently used one, which has usually refilled anyway; if not, that key merely
 * gets a fresh burst, which is the same as a restart of this process would give it.
 */
import { ErrorCode, TailcastError } from "./errors.ts";

export interface Rate {
  /** Sustained requests per second (may be fractional: 0.5 is one every two seconds). */
  perSecond: number;
  /** Requests allowed at once after an idle period; at least 1. */
  burst: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSec: number };

export interface RateLimiter {
  /** Takes one token from `key`'s bucket. `now` (ms) overrides the limiter's clock for this call. */
  take(key: string, rate: Rate, now?: number): TakeResult;
  /** Buckets held, for metrics and tests. */
  readonly size: number;
}

export interface RateLimiterOptions {
  /** Most buckets kept; least recently used ones are dropped past it. */
  maxKeys: number;
  /** Milliseconds since the epoch. */
  clock: () => number;
}

export const defaultRateLimiterOptions: Readonly<RateLimiterOptions> = Object.freeze({
  maxKeys: 10_000,
  clock: Date.now,
});

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export function createRateLimiter(options: Partial<RateLimiterOptions> = {}): RateLimiter {
  const { maxKeys, clock } = { ...defaultRateLimiterOptions, ...options };
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError("maxKeys must be a positive integer");
  // A Map iterates in insertion order: re-inserting on every use keeps the least recent first.
  const buckets = new Map<string, Bucket>();

  return {
    get size() {
      return buckets.size;
    },
    take(key, rate, now = clock()) {
      const { perSecond, burst } = rate;
      if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError("rate needs perSecond > 0 and burst >= 1");
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        bucket = { tokens: burst, updatedMs: now };
      } else {
        buckets.delete(key);
        // A clock that steps back must not mint tokens, nor push the bucket's time backwards.
        const elapsedMs = Math.max(0, now - bucket.updatedMs);
        bucket.tokens = Math.min(burst, bucket.tokens + (elapsedMs * perSecond) / 1000);
        bucket.updatedMs = Math.max(bucket.updatedMs, now);
      }
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      // Retry-After is whole seconds; rounding up (and never 0) means a client that waits it succeeds.
      const retryAfterSec = Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
      return { ok: false, retryAfterSec };
    },
  };
}

/** `take`, throwing `rate_limited` (429 with Retry-After) when the bucket is empty. */
export function takeOrThrow(limiter: RateLimiter, key: string, rate: Rate, now?: number): void {
  const result = limiter.take(key, rate, now);
  if (result.ok) return;
  throw new TailcastError(
    ErrorCode.rateLimited,
    `Rate limit exceeded: retry after ${result.retryAfterSec} s.`,
    { retryAfter: result.retryAfterSec },
  );
}
