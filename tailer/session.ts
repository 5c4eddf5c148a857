/**
 * One subscriber connection, whatever its transport. Socket.IO (socketio.ts) and /ws (ws.ts) only
 * carry requests in and replies out; everything a subscriber may do is decided here, once: subscribe /
 * unsubscribe / refresh / presence, token expiry (admission at connect: sessions.ts).
 *
 * A transport implements the small SessionTransport interface (in the spirit of Socket.IO's cluster
 * adapter: one base, transports implement hooks). The node's SubscriberSessions (sessions.ts) holds
 * every session of both transports, so what concerns all subscribers of the node is done in one place.
 *
 * A subscribe is checked in this order, on both transports:
 *   1. the request is well formed                       invalid_request, invalid_channel
 *   2. the token allows the channel, and the connection
 *      holds (or is subscribing to) fewer channels
 *      than the limit                                   forbidden, invalid_request
 *   3. the connection, and the token's subject across
 *      its connections, are within the subscribe rate   rate_limited (retry after)
 *   4. the node knows its position on the channel's bus
 *      (a tail opened on demand for it is waited for)   bus_unavailable (retry)
 *   5. recovery from `since` (recovery.ts), then the join to the live stream, which re-checks the
 *      token: a refresh during the replay that no longer allows the channel makes it `forbidden`.
 * Refusals that can never succeed come before the one worth retrying, so a client is never sent
 * elsewhere to retry a subscribe that no node would accept.
 *
 * A `presence` request is checked like a subscribe's first three steps (well formed, the token allows
 * the channel, within the subscribe rate), then read from the fleet's presence collection. Joins and
 * leaves are counted per channel as they happen (session-presence.ts), never written one by one; a
 * subscribe with `presence: true` also has the channel's presence updates pushed to the connection.
 */
import { randomBytes } from "node:crypto";
import { publicError } from "../shared/bus/errors.ts";
import { ErrorCode, isTailcastError, TailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { Envelope } from "../shared/message.ts";
import type { PresenceUpdate } from "../shared/presence/summary.ts";
import {
  type ErrorNotice,
  errorReplyOf,
  type GapNotice,
  type PresenceReply,
  type RefreshedReply,
  type ReplyTo,
  type SubscribedReply,
  type UnsubscribedReply,
} from "../shared/protocol/replies.ts";
import {
  parsePresence,
  parseSubscribe,
  parseUnsubscribe,
  type RequestType,
  refreshToken,
} from "../shared/protocol/requests.ts";
import { createRateLimiter, type RateLimiter, takeOrThrow } from "../shared/rate-limit.ts";
import type { ConnectionAccess } from "./access.ts";
import type { BusRouter, TailGap } from "./bus-router.ts";
import { notReady, type RecoveryTarget, replayThenJoin } from "./recovery.ts";
import { SessionPresence } from "./session-presence.ts";
import type { SessionDeps } from "./sessions.ts";

/** What a transport does for a session. */
export interface SessionTransport {
  /** Sends one message to this connection only (a replay). */
  emit(envelope: Envelope): void;
  /** Adds the connection to the channel's live fan-out. Synchronous: recovery.ts relies on it. */
  join(channel: string): void;
  leave(channel: string): void;
  /** False once the connection is gone. */
  connected(): boolean;
  /** Tells the client why (an `error` notice), then closes the connection. */
  disconnect(notice: ErrorNotice): void;
  /** Tells the client it lost messages of a channel it has joined (a `gap` notice). */
  gap(notice: GapNotice): void;
  /** Pushes a presence update of a channel the connection watches (README "Presence updates"). */
  presenceUpdate(update: PresenceUpdate): void;
  /**
   * Resolves once what was sent so far has been written out (nothing left in the connection's send
   * buffer), or the connection is gone. A replay waits for it between pages (recovery.ts).
   */
  drained(): Promise<void>;
  /**
   * Tells the client this node is draining — reconnect to another node now (README "Drain") — and
   * closes the connection. False if it could not be told (closed, or not connected yet).
   */
  moveOn(): boolean;
  /** Bytes waiting to be sent to this connection (what the slow-consumer bound counts). O(1). */
  pending(): number;
}

const cancelled = () =>
  new TailcastError(ErrorCode.invalidRequest, "Cancelled by a later request for the same channel.");

export class SubscriberSession {
  readonly #deps: SessionDeps;
  readonly #buses: BusRouter;
  readonly #transport: SessionTransport;
  readonly #access: ConnectionAccess;
  readonly #onClose: () => void;
  readonly #subjects: RateLimiter;
  /** This connection's own subscribe bucket (one key). */
  readonly #rate = createRateLimiter({ maxKeys: 1 });
  /**
   * Channel → the token of its latest subscribe. A replay emits and joins only while its token is
   * current, so a repeated subscribe or an unsubscribe of the same channel cancels it instead of
   * racing it.
   */
  readonly #subs = new Map<string, symbol>();
  /** Channel → the release of its hold on the channel's bus (one per channel in #subs). */
  readonly #holds = new Map<string, () => void>();
  readonly #presence: SessionPresence;
  #closed = false;
  /** Names this connection in the node's logs (README "Logs"). */
  readonly id = randomBytes(6).toString("base64url");
  /** The node's logger with this connection's `connId` on every line. */
  readonly log: Logger;
  #movedOn = false;

  constructor(
    deps: SessionDeps,
    buses: BusRouter,
    transport: SessionTransport,
    access: ConnectionAccess,
    subjects: RateLimiter,
    onClose: () => void,
  ) {
    this.#deps = deps;
    this.#buses = buses;
    this.#transport = transport;
    this.#access = access;
    this.#subjects = subjects;
    this.#onClose = onClose;
    this.log = deps.log.with({ connId: this.id });
    this.#presence = new SessionPresence(deps.presence, access.subject, (update) => {
      if (!this.#closed && transport.connected()) transport.presenceUpdate(update);
    });
  }

  /** The token's `sub`; null with auth off. */
  get subject(): string | null {
    return this.#access.subject;
  }

  /** Bytes waiting to be sent to this connection. */
  get pending(): number {
    return this.#transport.pending();
  }

  /** Channels this connection has joined. */
  get channels(): ReadonlySet<string> {
    return this.#access.channels;
  }

  /** Answers one request; never throws (a refusal is an error reply). */
  async handle<T extends RequestType>(type: T, body: unknown): Promise<ReplyTo[T]> {
    try {
      if (type === "subscribe") return (await this.#subscribe(body)) as ReplyTo[T];
      if (type === "unsubscribe") return this.#unsubscribe(body) as ReplyTo[T];
      if (type === "presence") return (await this.#presenceRequest(body)) as ReplyTo[T];
      return (await this.#refresh(body)) as ReplyTo[T];
    } catch (err) {
      if (!isTailcastError(err)) this.log.warn("subscriber request failed", { type, err });
      return errorReplyOf(publicError(err));
    }
  }

  /** Tells this connection about a hole in the node's tail, for each channel it has joined (of that bus). */
  gap({ from, to, missed }: TailGap, inBus?: (channel: string) => boolean): void {
    if (this.#closed || !this.#transport.connected()) return;
    for (const channel of this.#access.channels) {
      if (inBus === undefined || inBus(channel)) this.#transport.gap({ channel, from, to, missed });
    }
  }

  /** The node is draining (tailer/drain.ts): tells this connection to move; true the first time it is told. */
  moveOn(): boolean {
    if (this.#closed || this.#movedOn) return false;
    this.#movedOn = this.#transport.moveOn();
    return this.#movedOn;
  }

  /** The connection is gone: leave every channel, release what the connection held. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#subs.keys()) this.#transport.leave(channel);
    this.#subs.clear();
    for (const release of this.#holds.values()) release();
    this.#holds.clear();
    for (const channel of this.#access.channels) this.#left(channel);
    this.#access.close();
    this.#onClose();
    this.log.debug("client disconnected");
  }

  async #subscribe(body: unknown): Promise<SubscribedReply> {
    const { limits } = this.#deps;
    const { channel, since, presence } = parseSubscribe(body, limits);
    this.#access.admit(channel, this.#subs);
    this.#takeSubscribe();
    const hold = this.#buses.hold(channel);
    const { tail, history } = hold;
    if (!tail.ready() && !hold.opening) {
      hold.release();
      throw notReady();
    }
    // A repeated subscribe starts over: leave first, so a replay never doubles the live stream.
    this.#transport.leave(channel);
    const token = Symbol(channel);
    this.#subs.set(channel, token);
    // The new hold is taken before the previous one of the channel goes, so the bus never looks idle.
    const previous = this.#holds.get(channel);
    this.#holds.set(channel, hold.release);
    previous?.();
    // A refresh may narrow the token while the replay runs: nothing more is emitted, nor joined, for a
    // channel the current token no longer allows.
    const current = () =>
      !this.#closed &&
      this.#transport.connected() &&
      this.#subs.get(channel) === token &&
      this.#access.allows(channel);
    const target: RecoveryTarget = {
      emit: (envelope) => {
        if (current()) this.#transport.emit(envelope);
      },
      join: () => {
        if (!current()) return;
        this.#joined(channel, presence);
        this.#transport.join(channel);
      },
      connected: current,
      drained: () => this.#transport.drained(),
      backlogged: () => this.#transport.pending() > this.#deps.replayBudget,
    };
    if (!tail.ready()) {
      // The channel's bus is being tailed for this subscribe (tail on demand): wait until its tail knows
      // where it starts. Joining there, or replaying up to there from the bus, misses nothing after it.
      try {
        await hold.started();
        if (!tail.ready()) throw notReady();
        if (!current()) {
          this.#access.authorize(channel);
          throw cancelled();
        }
      } catch (err) {
        if (this.#subs.get(channel) === token) this.#drop(channel);
        throw err;
      }
    }
    if (since === null) {
      target.join();
      const { offset, epoch } = tail.position();
      return { type: "subscribed", channel, offset, epoch, recovered: true };
    }
    let outcome: Awaited<ReturnType<typeof replayThenJoin>>;
    try {
      outcome = await replayThenJoin(history, channel, since, tail, target);
      if (!current()) {
        this.#access.authorize(channel);
        throw cancelled();
      }
    } catch (err) {
      // A failed or revoked subscribe holds nothing: it no longer counts toward the limit.
      if (this.#subs.get(channel) === token) this.#drop(channel);
      throw err;
    }
    const { recovered, position } = outcome;
    if (!recovered) this.log.info("subscriber could not be fully recovered", { channel, since });
    return { type: "subscribed", channel, offset: position.offset, epoch: position.epoch, recovered };
  }

  /** Throws `rate_limited` past the subscribe rate of this connection or of its token's subject. */
  #takeSubscribe(): void {
    const { subscribeRate } = this.#deps;
    // The time is read here, not captured by the limiter, so tests can move it with fake timers.
    const now = Date.now();
    takeOrThrow(this.#rate, "connection", subscribeRate, now);
    const { subject } = this;
    if (subject !== null) takeOrThrow(this.#subjects, subject, subscribeRate, now);
  }

  #unsubscribe(body: unknown): UnsubscribedReply {
    const { channel } = parseUnsubscribe(body, this.#deps.limits);
    this.#drop(channel);
    return { type: "unsubscribed", channel };
  }

  #drop(channel: string): void {
    this.#transport.leave(channel);
    this.#subs.delete(channel);
    if (this.#access.channels.has(channel)) this.#left(channel);
    this.#release(channel);
  }

  /**
   * The connection joined `channel`'s live stream: counted once however often it resubscribes; watched
   * for presence updates as the latest subscribe asked.
   */
  #joined(channel: string, watch: boolean): void {
    if (!this.#access.channels.has(channel)) {
      this.#access.channels.add(channel);
      this.#presence.joined(channel);
    }
    this.#presence.watching(channel, watch);
  }

  /** Call only for a channel the connection has joined. */
  #left(channel: string): void {
    this.#access.channels.delete(channel);
    this.#presence.left(channel);
  }

  #release(channel: string): void {
    this.#holds.get(channel)?.();
    this.#holds.delete(channel);
  }

  async #refresh(body: unknown): Promise<RefreshedReply> {
    // `revoked` are joined channels the new token no longer allows (same subject: access.ts checks it).
    const { expiresAt, revoked } = await this.#access.refresh(refreshToken(body));
    for (const channel of revoked) {
      this.#transport.leave(channel);
      this.#subs.delete(channel);
      this.#release(channel);
      this.#presence.left(channel);
    }
    return { type: "refreshed", expiresAt, revoked };
  }

  async #presenceRequest(body: unknown): Promise<PresenceReply> {
    const { channel } = parsePresence(body, this.#deps.limits);
    this.#access.authorize(channel);
    this.#takeSubscribe();
    return this.#presence.reply(channel);
  }
}
