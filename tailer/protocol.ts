/**
 * The subscriber protocol (brief §2), shared by Socket.IO and /ws: typed event maps and the
 * validation of what clients send. Pure: a malformed request becomes an error reply, never a throw
 * that escapes to the transport.
 */
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import { type Envelope, type MessageLimits, validateChannel } from "../shared/message.ts";
import { isValidOffset, type Position } from "../shared/offsets.ts";

export interface SubscribeRequest {
  channel: string;
  since: Position | null;
}

export type SubscribeAck =
  | { ok: true; channel: string; offset: number; epoch: string; recovered: boolean }
  | { ok: false; error: { code: string; message: string } };

export type UnsubscribeAck =
  | { ok: true; channel: string }
  | { ok: false; error: { code: string; message: string } };

export interface ClientToServerEvents {
  subscribe: (request: unknown, ack?: (res: SubscribeAck) => void) => void;
  unsubscribe: (request: unknown, ack?: (res: UnsubscribeAck) => void) => void;
}

/** Each message is emitted under its own `event` name with the envelope as argument. */
export type ServerToClientEvents = Record<string, (envelope: Envelope) => void>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseSubscribe(request: unknown, limits: MessageLimits): SubscribeRequest {
  if (!isObject(request)) {
    throw new TailcastError(ErrorCode.invalidRequest, "subscribe takes an object `{ channel, since? }`.");
  }
  const channel = validateChannel(request.channel, limits);
  const { since } = request;
  if (since === undefined || since === null) return { channel, since: null };
  if (
    !isObject(since) ||
    !isValidOffset(since.offset) ||
    typeof since.epoch !== "string" ||
    since.epoch.length > 64
  ) {
    throw new TailcastError(
      ErrorCode.invalidRequest,
      "`since` must be `{ offset: <non-negative integer>, epoch: <string> }`.",
    );
  }
  return { channel, since: { offset: since.offset, epoch: since.epoch } };
}

export function parseUnsubscribe(request: unknown, limits: MessageLimits): { channel: string } {
  if (!isObject(request))
    throw new TailcastError(ErrorCode.invalidRequest, "unsubscribe takes an object `{ channel }`.");
  return { channel: validateChannel(request.channel, limits) };
}

export function errorReply(err: unknown): { ok: false; error: { code: string; message: string } } {
  if (err instanceof TailcastError) return { ok: false, error: { code: err.code, message: err.message } };
  return { ok: false, error: { code: ErrorCode.internal, message: "Internal error." } };
}

/** Socket.IO room of a channel; prefixed so it can never collide with a socket id room. */
export const roomOf = (channel: string) => `ch:${channel}`;
