/**
 * /ws frames (README "WebSocket"): JSON text, one object per frame. `id` is chosen by the client and
 * echoed in the reply so it can match replies to requests; it is `null` in an error about a frame whose
 * id could not be read. Pure.
 */
import { ErrorCode, TailcastError } from "../errors.ts";
import { isPlainObject } from "../json.ts";
import type { Envelope } from "../message.ts";
import type { Position } from "../offsets.ts";
import type { PresenceUpdate } from "../presence/summary.ts";
import type { ErrorReply, GapNotice, Reply } from "./replies.ts";
import { isRequestType, type RequestType } from "./requests.ts";

export type WsRequestId = string | number;

export type WsClientFrame =
  | { type: "subscribe"; id: WsRequestId; channel: string; since?: Position | null; presence?: boolean }
  | { type: "unsubscribe"; id: WsRequestId; channel: string }
  | { type: "refresh"; id: WsRequestId; token: string }
  | { type: "presence"; id: WsRequestId; channel: string };

export type WsMessageFrame = { type: "message" } & Envelope;
export type WsGapFrame = { type: "gap" } & GapNotice;
export type WsPresenceUpdateFrame = { type: "presence_update" } & PresenceUpdate;

export type WsServerFrame =
  | (Exclude<Reply, ErrorReply> & { id: WsRequestId })
  | (ErrorReply & { id: WsRequestId | null })
  | WsMessageFrame
  | WsGapFrame
  | WsPresenceUpdateFrame;

/** A frame that is not a request at all; `id` is what could be read of it, for the error reply. */
export class WsFrameError extends TailcastError {
  readonly id: WsRequestId | null;
  constructor(id: WsRequestId | null, message: string) {
    super(ErrorCode.invalidRequest, message);
    this.id = id;
  }
}

export interface WsRequest {
  type: RequestType;
  id: WsRequestId;
  /** The whole frame, for the request parsers (requests.ts). */
  body: Record<string, unknown>;
}

const MAX_ID_LENGTH = 64;

function requestId(v: unknown): WsRequestId | null {
  if (typeof v === "string" && v.length > 0 && v.length <= MAX_ID_LENGTH) return v;
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
  if (!isPlainObject(frame)) throw new WsFrameError(null, "Frame must be a JSON object `{ type, id, ... }`.");
  const id = requestId(frame.id);
  if (!isRequestType(frame.type)) {
    throw new WsFrameError(id, '`type` must be "subscribe", "unsubscribe", "refresh" or "presence".');
  }
  if (id === null)
    throw new WsFrameError(
      null,
      `\`id\` must be a non-empty string (at most ${MAX_ID_LENGTH} characters) or a number.`,
    );
  return { type: frame.type, id, body: frame };
}

/** The reply to the request `id`, as the frame that carries it. */
export function toWsFrame(reply: Reply, id: WsRequestId): WsServerFrame {
  return { ...reply, id };
}
