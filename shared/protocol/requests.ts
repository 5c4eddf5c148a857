/**
 * What a subscriber may ask a tailer, on either transport (README "Socket.IO" and "WebSocket"), and
 * its validation. Pure. A parser returns the validated request or throws a TailcastError with a stable
 * code — never anything else; the session (tailer/session.ts) turns that into an error reply.
 */
import { ErrorCode, TailcastError } from "../errors.ts";
import { isPlainObject } from "../json.ts";
import { type MessageLimits, validateChannel } from "../message.ts";
import { isValidOffset, type Position } from "../offsets.ts";

/** The requests of the subscriber protocol; `body` is what the client sent, not yet validated. */
export const REQUEST_TYPES = ["subscribe", "unsubscribe", "refresh", "presence"] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

export function isRequestType(v: unknown): v is RequestType {
  return (REQUEST_TYPES as readonly unknown[]).includes(v);
}

export interface SubscribeRequest {
  channel: string;
  since: Position | null;
  /** Push this connection the channel's presence updates (README "Presence updates"). */
  presence: boolean;
}

/** Longest `since.epoch` accepted: epochs are UUIDs, so this only bounds hostile input. */
const MAX_EPOCH_LENGTH = 64;

export function parseSubscribe(request: unknown, limits: MessageLimits): SubscribeRequest {
  if (!isPlainObject(request)) {
    throw new TailcastError(
      ErrorCode.invalidRequest,
      "subscribe takes an object `{ channel, since?, presence? }`.",
    );
  }
  const channel = validateChannel(request.channel, limits);
  const { since } = request;
  if (request.presence !== undefined && typeof request.presence !== "boolean") {
    throw new TailcastError(ErrorCode.invalidRequest, "`presence` must be true or false.");
  }
  const presence = request.presence === true;
  if (since === undefined || since === null) return { channel, since: null, presence };
  if (
    !isPlainObject(since) ||
    !isValidOffset(since.offset) ||
    typeof since.epoch !== "string" ||
    since.epoch.length > MAX_EPOCH_LENGTH
  ) {
    throw new TailcastError(
      ErrorCode.invalidRequest,
      "`since` must be `{ offset: <non-negative integer>, epoch: <string> }`.",
    );
  }
  return { channel, since: { offset: since.offset, epoch: since.epoch }, presence };
}

export function parseUnsubscribe(request: unknown, limits: MessageLimits): { channel: string } {
  if (!isPlainObject(request))
    throw new TailcastError(ErrorCode.invalidRequest, "unsubscribe takes an object `{ channel }`.");
  return { channel: validateChannel(request.channel, limits) };
}

/** `presence { channel }`: who is subscribed to the channel across the fleet (README "Presence"). */
export function parsePresence(request: unknown, limits: MessageLimits): { channel: string } {
  if (!isPlainObject(request))
    throw new TailcastError(ErrorCode.invalidRequest, "presence takes an object `{ channel }`.");
  return { channel: validateChannel(request.channel, limits) };
}

/** The token of a `refresh { token }`, as sent: the token verifier refuses anything but a good JWT. */
export function refreshToken(request: unknown): unknown {
  return isPlainObject(request) ? request.token : undefined;
}
