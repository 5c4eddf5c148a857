/** Public types of the tailcast client. Types only: nothing here reaches a bundle. */
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";
import type { PresenceSummary, PresenceUpdate } from "../shared/presence/summary.ts";
import type { PickUrl } from "./urls.ts";

export type { Envelope, Position };

/**
 * A channel's subscribers across the fleet (README "Presence"): connections summed over the nodes,
 * the nodes holding them, and — when the operator enabled them — the distinct token subjects.
 */
export type Presence = PresenceSummary;

/**
 * A presence update of a channel subscribed with `presence: true` (README "Presence updates"): the
 * channel's presence now, and — when the operator enabled subjects — the subjects that `joined` and
 * `left` since the previous update. The first update after each (re)subscribe is the whole summary.
 */
export type { PresenceUpdate };

export type TransportName = "ws" | "socket.io";
/**
 * `connecting`: trying to (re)connect, including the backoff between attempts; `connected`: a node
 * answered (subscriptions are being restored); `disconnected`: closed by `close()`.
 */
export type ConnectionState = "connecting" | "connected" | "disconnected";
export type TokenSource = string | (() => string | Promise<string>);

/** Options of {@link createClient}; every field but `urls` has a documented default. */
export interface ClientOptions {
  /** Tailer node URLs (`http(s)://` or, for /ws, `ws(s)://`). The client moves on to the next one on each failure. */
  urls: string[];
  /** Default `"ws"`: plain WebSocket on `/ws`. `"socket.io"` loads `socket.io-client` on first connect. */
  transport: TransportName;
  /** Sent on every (re)connect; a function is called each time, so it can refresh an expiring token. */
  token: TokenSource | undefined;
  /**
   * WebSocket constructor for the `"ws"` transport. Default: the global one (browsers, Node ≥ 22);
   * on Node 20 pass `WebSocket` from the `ws` package.
   */
  WebSocket: typeof WebSocket | undefined;
  /** Reconnect delays: jittered exponential between these bounds. Default `{ initialMs: 100, maxMs: 10_000 }`. */
  backoff: { initialMs: number; maxMs: number };
  /** Which URL to try next. Default `"round-robin"` from a random start, which spreads clients over nodes; `"ordered"` starts at the first. */
  pickUrl: PickUrl;
  /** Limit for a connection or a subscribe to be answered. Default 10 000 ms. */
  timeoutMs: number;
  /**
   * A channel to send as the `channel` query parameter of every connection, so a load balancer that
   * hashes it puts the clients of one channel on one node, which then reads fewer buses (README "Tail
   * on demand and affinity"). Usually the channel this client mostly subscribes to. Default: none.
   */
  affinity: string | undefined;
}

export interface SubscribeOptions {
  /** Resume after this position (a previous session's `subscription.position`): missed messages come first. */
  since?: Position | null;
  /** Also receive the channel's presence updates as `presence` events (README "Presence updates"). Default false. */
  presence?: boolean;
}

export type MessageHandler = (envelope: Envelope) => void;

export interface Subscription {
  readonly channel: string;
  /**
   * How far this subscription is caught up: the last message delivered, or the node's position from
   * the latest subscribe ack when that is further. `null` before the first ack or message.
   */
  readonly position: Position | null;
  /** Stops delivery at once and tells the node. */
  unsubscribe(): void;
}

/**
 * Messages after `since` were lost to this client: a resubscribe answered `recovered: false`, or the
 * node it is on reported a `gap` while connected (it fell behind the bus, or the bus was recreated).
 */
export interface Gap {
  channel: string;
  since: Position;
  /** Where delivery continues; fetch what lies between from history, or resync the application. */
  position: Position;
}

export interface Subscribed {
  channel: string;
  url: string;
  position: Position;
  recovered: boolean;
}

/**
 * A subscription refused for good (bad channel, not allowed; the subscription is dropped), a connection
 * refused with a code (`channel: null`; the client keeps retrying, asking `token` again), or a message
 * handler that threw (`handler_error`).
 */
export interface ClientError {
  channel: string | null;
  error: { code: string; message: string };
  cause?: unknown;
}

export interface ClientEvents {
  state: (state: ConnectionState) => void;
  /** The URL of the node the client just connected to. */
  node: (url: string) => void;
  subscribed: (info: Subscribed) => void;
  gap: (gap: Gap) => void;
  /** A presence update of a channel subscribed with `presence: true`. */
  presence: (update: PresenceUpdate) => void;
  error: (error: ClientError) => void;
}

export interface Client {
  readonly state: ConnectionState;
  /** One subscription per channel; subscribing to a channel twice throws. */
  subscribe(channel: string, handler: MessageHandler, options?: SubscribeOptions): Subscription;
  /**
   * The channel's presence across the fleet, asked of the node the client is connected to (waiting
   * up to `timeoutMs` for a connection). Rejects with a {@link RequestRefused} carrying the node's
   * code (`forbidden`, `rate_limited`, …) or `timeout` / `disconnected`.
   */
  presence(channel: string): Promise<Presence>;
  /** Returns a function that removes the listener. */
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void;
  /** Closes the connection for good; subscriptions stop. */
  close(): void;
}
