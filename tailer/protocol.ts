/**
 * The subscriber protocol (brief §2), shared by Socket.IO and /ws: typed event maps and the
 * validation of what clients send. Pure: a malformed request becomes an error reply, never a throw
 * that escapes to the transport.
 */
import type { IncomingMessage } from "node:http";
import type { RawData } from "ws";
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

export type RefreshAck =
  | { ok: true; expiresAt: number | null; revoked: string[] }
  | { ok: false; error: { code: string; message: string } };

export interface ClientToServerEvents {
  subscribe: (request: unknown, ack?: (res: SubscribeAck) => void) => void;
  unsubscribe: (request: unknown, ack?: (res: UnsubscribeAck) => void) => void;
  /** A fresh token `{ token }` before the current one expires. */
  refresh: (request: unknown, ack?: (res: RefreshAck) => void) => void;
}

/** Sent as the `error` event (a name no message may use) before the server disconnects a client. */
export interface ErrorNotice {
  code: string;
  message: string;
}

/** Each message is emitted under its own `event` name with the envelope as argument. */
export type ServerToClientEvents = Record<string, (payload: Envelope | ErrorNotice) => void>;

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

export function notReady(): TailcastError {
  return new TailcastError(ErrorCode.busUnavailable, "This node is not following the bus yet; retry.", {
    retryAfter: 1,
  });
}

/** Socket.IO room of a channel; prefixed so it can never collide with a socket id room. */
export const roomOf = (channel: string) => `ch:${channel}`;

/**
 * /ws frames (brief §2): JSON text, one object per frame. `id` is chosen by the client and echoed in
 * the reply so it can match replies to requests; it is `null` in an error about a frame whose id could
 * not be read.
 */
export type WsRequestId = string | number;

export type WsClientFrame =
  | { type: "subscribe"; id: WsRequestId; channel: string; since?: Position | null }
  | { type: "unsubscribe"; id: WsRequestId; channel: string }
  | { type: "refresh"; id: WsRequestId; token: string };

export type WsServerFrame =
  | {
      type: "subscribed";
      id: WsRequestId;
      channel: string;
      offset: number;
      epoch: string;
      recovered: boolean;
    }
  | { type: "unsubscribed"; id: WsRequestId; channel: string }
  | { type: "refreshed"; id: WsRequestId; expiresAt: number | null; revoked: string[] }
  | { type: "error"; id: WsRequestId | null; error: { code: string; message: string } }
  | ({ type: "message" } & Envelope);

/** A frame that is not a request at all; `id` is what could be read of it, for the error reply. */
export class WsFrameError extends TailcastError {
  readonly id: WsRequestId | null;
  constructor(id: WsRequestId | null, message: string) {
    super(ErrorCode.invalidRequest, message);
    this.id = id;
  }
}

export interface WsRequest {
  type: "subscribe" | "unsubscribe" | "refresh";
  id: WsRequestId;
  /** The whole frame, for parseSubscribe / parseUnsubscribe. */
  body: Record<string, unknown>;
}

function requestId(v: unknown): WsRequestId | null {
  if (typeof v === "string" && v.length > 0 && v.length <= 64) return v;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  return null;
}

/** Reads a /ws text frame as a request; throws a WsFrameError for anything else. */
export function parseWsFrame(text: string): WsRequest {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    throw new WsFrameError(null, "Frame is not valid JSON.");
  }
  if (!isObject(frame)) throw new WsFrameError(null, "Frame must be a JSON object `{ type, id, ... }`.");
  const id = requestId(frame.id);
  if (frame.type !== "subscribe" && frame.type !== "unsubscribe" && frame.type !== "refresh") {
    throw new WsFrameError(id, '`type` must be "subscribe", "unsubscribe" or "refresh".');
  }
  if (id === null)
    throw new WsFrameError(null, "`id` must be a non-empty string (at most 64 characters) or a number.");
  return { type: frame.type, id, body: frame };
}

/** The text of a /ws frame; binary frames are refused. */
export function frameText(data: RawData, isBinary: boolean): string {
  if (isBinary) throw new WsFrameError(null, "Frames must be JSON text, not binary.");
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return bytes.toString();
}
/** The path of an upgrade request's URL, or null when it is not a URL at all. */
export function pathnameOf(url: string): string | null {
  try {
    return new URL(url, "http://localhost").pathname;
  } catch {
    return null;
  }
}
/** A /ws token: `?token=` (browsers cannot set headers on a WebSocket) or an Authorization header. */
export function tokenOf(req: IncomingMessage): string | undefined {
  const query = new URL(req.url ?? "/", "http://localhost").searchParams.get("token");
  if (query) return query;
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
}
