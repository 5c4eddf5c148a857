/**
 * What a tailer answers, on either transport (README "Socket.IO" and "WebSocket"): one reply union,
 * rendered as a Socket.IO ack (`{ ok, … }`) or a /ws frame (`{ type, id, … }`, see ws-frames.ts).
 */
import { errorBody } from "../errors.ts";
import type { Envelope } from "../message.ts";
import type { Position } from "../offsets.ts";
import type { PresenceSummary, PresenceUpdate } from "../presence/summary.ts";
import type { DrainingNotice } from "./drain-signal.ts";

/** The `{ code, message }` of every refusal, whatever carries it. */
export interface ErrorInfo {
  code: string;
  message: string;
}

export type SubscribedReply = {
  type: "subscribed";
  channel: string;
  offset: number;
  epoch: string;
  recovered: boolean;
};
export type UnsubscribedReply = { type: "unsubscribed"; channel: string };
export type RefreshedReply = { type: "refreshed"; expiresAt: number | null; revoked: string[] };
/** The channel's subscribers across the fleet, as of each node's last presence write (README "Presence"). */
export type PresenceReply = { type: "presence" } & PresenceSummary;
export type ErrorReply = { type: "error"; error: ErrorInfo };

export type Reply = SubscribedReply | UnsubscribedReply | RefreshedReply | PresenceReply | ErrorReply;

/** The reply to each request type. */
export interface ReplyTo {
  subscribe: SubscribedReply | ErrorReply;
  unsubscribe: UnsubscribedReply | ErrorReply;
  refresh: RefreshedReply | ErrorReply;
  presence: PresenceReply | ErrorReply;
}

/** Anything thrown, as an error reply: known errors keep their code, the rest never leak details. */
export function errorReplyOf(err: unknown): ErrorReply {
  return { type: "error", error: errorBody(err).error };
}

// ---- Socket.IO ----------------------------------------------------------------------------------

export type ErrorAck = { ok: false; error: ErrorInfo };
type AckOf<R extends Reply> = R extends ErrorReply ? ErrorAck : { ok: true } & Omit<R, "type">;

export type SubscribeAck = AckOf<ReplyTo["subscribe"]>;
export type UnsubscribeAck = AckOf<ReplyTo["unsubscribe"]>;
export type RefreshAck = AckOf<ReplyTo["refresh"]>;
export type PresenceAck = AckOf<ReplyTo["presence"]>;

export function toAck<R extends Reply>(reply: R): AckOf<R> {
  const { type, ...rest } = reply;
  return (type === "error" ? { ok: false, ...rest } : { ok: true, ...rest }) as AckOf<R>;
}

/** The Socket.IO ack for anything thrown. */
export function errorReply(err: unknown): ErrorAck {
  return toAck(errorReplyOf(err));
}

export interface ClientToServerEvents {
  subscribe: (request: unknown, ack?: (res: SubscribeAck) => void) => void;
  unsubscribe: (request: unknown, ack?: (res: UnsubscribeAck) => void) => void;
  /** A fresh token `{ token }` before the current one expires. */
  refresh: (request: unknown, ack?: (res: RefreshAck) => void) => void;
  /** `{ channel }`: the channel's presence across the fleet. */
  presence: (request: unknown, ack?: (res: PresenceAck) => void) => void;
}

/**
 * Pushed to every subscriber of `channel` on a node whose tail could not deliver everything (README
 * "Guarantees", G5): messages between `from` (the last position the node delivered) and `to` (the
 * next one it delivers; offset 0 of a new epoch when the bus was recreated) are lost to this
 * connection. `missed` counts them across all channels; null for a new epoch or a rollback, where it is
 * not known. Comes before any message after the hole. Socket.IO event `gap`, /ws frame `{ type: "gap" }`.
 */
export interface GapNotice {
  channel: string;
  from: Position;
  to: Position;
  missed: number | null;
}

/** Sent as the `error` event (a name no message may use) before the server disconnects a client. */
export type ErrorNotice = ErrorInfo;

/**
 * Each message is emitted under its own `event` name with the envelope as argument; `error`, `gap`,
 * `tailcast:draining` (drain-signal.ts) and `tailcast:presence` (presence-update.ts) are notices.
 */
export type ServerToClientEvents = Record<
  string,
  (payload: Envelope | ErrorNotice | GapNotice | DrainingNotice | PresenceUpdate) => void
>;
