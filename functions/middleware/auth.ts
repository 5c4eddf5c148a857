/**
 * Who is calling the ingest API. Publishing takes an API key (`Authorization: Bearer tc_…`), limited
 * to its channel patterns and its rate; reading history takes an API key or, where configured, a
 * subscriber JWT. With auth off (local development) everyone is "anonymous" and allowed.
 */
import type { Context, MiddlewareHandler } from "hono";
import { API_KEY_PREFIX, type KeyVerifier } from "../../shared/auth/api-keys.ts";
import { bearerToken } from "../../shared/auth/bearer.ts";
import {
  authorizeChannel,
  type ChannelAction,
  type ChannelMatcher,
} from "../../shared/auth/channel-patterns.ts";
import type { TokenVerifier } from "../../shared/auth/jwt.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { type Rate, type RateLimiter, takeOrThrow } from "../../shared/rate-limit.ts";
import type { IngestEnv } from "../env.ts";

export interface AuthOptions {
  publishers: KeyVerifier | "off";
  /** Subscriber tokens accepted for reading history; undefined when not configured here. */
  subscribers: TokenVerifier | "off" | undefined;
  limiter: RateLimiter;
  /** For keys configured without a rate of their own. */
  defaultRate: Rate;
  /** History reads with a subscriber token, per token subject (`limiter` holds the buckets). */
  historyRate: Rate;
}

export function callerAuth(options: AuthOptions): MiddlewareHandler<IngestEnv> {
  return async (c, next) => {
    if (options.publishers === "off") {
      c.set("publisherId", "anonymous");
      c.set("caller", null);
      return next();
    }
    const header = c.req.header("authorization");
    const token = bearerToken(header);
    const isKey = token?.startsWith(API_KEY_PREFIX) ?? false;
    if (
      c.req.method === "GET" &&
      token !== undefined &&
      !isKey &&
      options.subscribers &&
      options.subscribers !== "off"
    ) {
      const subscriber = await options.subscribers.verify(token);
      // Any end user holds a token: without this, one could hammer the database with history reads.
      takeOrThrow(options.limiter, `history:${subscriber.sub}`, options.historyRate);
      c.set("publisherId", `jwt:${subscriber.sub}`);
      c.set("caller", { channels: subscriber.channels, action: "subscribe" });
      return next();
    }
    const publisher = options.publishers.verify(header);
    takeOrThrow(options.limiter, publisher.id, publisher.rate ?? options.defaultRate);
    c.set("publisherId", publisher.id);
    c.set("caller", { channels: publisher.channels, action: "publish" });
    return next();
  };
}

/** Throws `forbidden` unless the caller may use every channel; call before anything is written. */
export function authorizeChannels(c: Context<IngestEnv>, channels: Iterable<string>): void {
  const caller = c.get("caller");
  if (caller === null) return;
  for (const channel of new Set(channels)) authorizeChannel(caller, channel, caller.action);
}

export type Caller = { channels: ChannelMatcher; action: ChannelAction } | null;

export function requireAction(c: Context<IngestEnv>, action: ChannelAction): void {
  const caller = c.get("caller");
  if (caller !== null && caller.action !== action) {
    throw new TailcastError(ErrorCode.forbidden, `This credential cannot ${action}.`);
  }
}
