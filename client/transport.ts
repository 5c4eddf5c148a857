/**
 * What the client needs from a connection to one node, whatever the wire: Socket.IO or /ws. A
 * connection is used once: when it closes, the client opens a new one (maybe to another node).
 */
import { isPlainObject } from "../shared/json.ts";
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";
import type { PresenceUpdate } from "../shared/protocol/presence-update.ts";
import type { GapNotice, PresenceAck, SubscribeAck } from "../shared/protocol/replies.ts";

export type { GapNotice, PresenceAck, PresenceUpdate, SubscribeAck };

export interface ConnectionHandlers {
  message(envelope: Envelope): void;
  /** The node lost messages of a joined channel (README "Guarantees", G5); comes before what follows the hole. */
  gap(notice: GapNotice): void;
  /** A presence update of a channel subscribed with `presence: true` (README "Presence updates"). */
  presence(update: PresenceUpdate): void;
  /** The node refused or ended the connection with a code (`unauthorized`, `token_expired`, …). */
  refused(code: string, message: string): void;
  /** The node is draining and asked this client to move to another node (README "Drain"); `closed` follows. */
  draining(): void;
  /** Called once, when the connection is gone for whatever reason (not after `close()`). */
  closed(reason: string): void;
}

export interface Connection {
  /** Resolves with the node's answer; rejects if the connection closes or no answer comes in time. */
  subscribe(channel: string, since: Position | null, presence: boolean): Promise<SubscribeAck>;
  /** The channel's presence across the fleet (README "Presence"); never rejects, like `subscribe`. */
  presence(channel: string): Promise<PresenceAck>;
  /** Fire and forget: the client has already stopped delivering the channel. */
  unsubscribe(channel: string): void;
  close(): void;
}

export interface ConnectOptions {
  url: string;
  token: string | undefined;
  timeoutMs: number;
  handlers: ConnectionHandlers;
}

export type Connect = (options: ConnectOptions) => Promise<Connection>;

/** An answer the client gives itself when the node could not answer (`disconnected`, `timeout`). */
export function unanswered(code: "disconnected" | "timeout", message: string): SubscribeAck {
  return { ok: false, error: { code, message } };
}

/**
 * The node refused the connection with a code: `unauthorized` and the like are reported to the
 * application; `node_draining` sends the client to another node at once.
 */
export class ConnectRefused extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** A request the node refused, or that could not be answered (`timeout`, `disconnected`). */
export class RequestRefused extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "RequestRefused";
    this.code = code;
  }
}

function isPosition(v: unknown): v is Position {
  return isPlainObject(v) && typeof v.offset === "number" && typeof v.epoch === "string";
}

/** Guards a `gap` notice before the client acts on it. */
export function isGapNotice(v: unknown): v is GapNotice {
  return (
    isPlainObject(v) &&
    typeof v.channel === "string" &&
    isPosition(v.from) &&
    isPosition(v.to) &&
    (v.missed === null || typeof v.missed === "number")
  );
}

/** Guards what a node sends before the client trusts it as an envelope. */
export function isEnvelope(v: unknown): v is Envelope {
  return (
    isPlainObject(v) &&
    typeof v.channel === "string" &&
    typeof v.id === "string" &&
    typeof v.event === "string" &&
    typeof v.epoch === "string" &&
    typeof v.offset === "number"
  );
}
