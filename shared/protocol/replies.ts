/**
 * What a tailer answers, on either transport (README "Socket.IO" and "WebSocket"): one reply union,
 * rendered as a Socket.IO ack (`{ ok, … }`) or a /ws frame (`{ type, id, … }`, see ws-frames.ts).
 */
import { errorBody } from "../errors.ts";
import type { Envelope } from "../message.ts";

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
export type ErrorReply = { type: "error"; error: ErrorInfo };

export type Reply = SubscribedReply | UnsubscribedReply | RefreshedReply | ErrorReply;

/** The reply to each request type. */
export interface ReplyTo {
  subscribe: SubscribedReply | ErrorReply;
  unsubscribe: UnsubscribedReply | ErrorReply;
  refresh: RefreshedReply | ErrorReply;
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
}

/** Sent as the `error` event (a name no message may use) before the server disconnects a client. */
export type ErrorNotice = ErrorInfo;

/** Each message is emitted under its own `event` name with the envelope as argument. */
export type ServerToClientEvents = Record<string, (payload: Envelope | ErrorNotice) => void>;
