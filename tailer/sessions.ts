/**
 * Every subscriber session of the node, on both transports (one session: session.ts): admission at
 * connect, and what concerns all of them at once — a gap in the node's tail, the outbound totals the
 * slow-consumer bound and `/stats` read, the token subjects' shared subscribe buckets.
 */
import type { TokenVerifier } from "../shared/auth/jwt.ts";
import type { BusHistory } from "../shared/bus/history.ts";
import { errorBody } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { MessageLimits } from "../shared/message.ts";
import { createRateLimiter, type Rate } from "../shared/rate-limit.ts";
import { ConnectionAccess, tokenExpired } from "./access.ts";
import { type BusRouter, type LiveView, singleBus, type TailGap } from "./bus-router.ts";
import { type SessionTransport, SubscriberSession } from "./session.ts";
import type { NodePresence } from "./session-presence.ts";

export interface SessionDeps {
  /** The bus of every channel, tailed for good, when `buses` is not given. */
  history?: BusHistory;
  tail?: LiveView;
  /** Routes each channel to its bus (several buses, tails on demand); else `tail` and `history`. */
  buses?: BusRouter;
  limits: MessageLimits;
  subscribers: TokenVerifier | "off";
  maxSubscriptions: number;
  /** Subscribes per connection, and per token subject across its connections on this node. */
  subscribeRate: Rate;
  /** Refuses a connection (e.g. too many from one address) by throwing; returns its release. */
  admitConnection: (address: string) => () => void;
  /**
   * Bytes a replay may leave waiting on a connection before it waits for it to drain (half the
   * slow-consumer bound, tailer/slow-consumer.ts).
   */
  replayBudget: number;
  log: Logger;
  /**
   * The node's presence (README "Presence"): its per-channel tally, the fleet-wide reader and the watched
   * channels. Without it nothing is counted and a `presence` request is answered `not_found`.
   */
  presence?: NodePresence;
}

function routerOf(deps: SessionDeps): BusRouter {
  if (deps.buses) return deps.buses;
  if (deps.tail && deps.history) return singleBus(deps.tail, deps.history);
  throw new TypeError("SubscriberSessions needs `buses`, or `tail` and `history`");
}

/** Every subscriber session of the node, on both transports. */
export class SubscriberSessions {
  readonly #deps: SessionDeps;
  readonly #buses: BusRouter;
  readonly #open = new Set<SubscriberSession>();
  /** Subscribe buckets per token subject, shared by that subject's connections. */
  readonly #subjects = createRateLimiter();

  constructor(deps: SessionDeps) {
    this.#deps = deps;
    this.#buses = routerOf(deps);
  }

  get size(): number {
    return this.#open.size;
  }

  /** Bytes waiting to be sent, over all connections and on the fullest one (`/stats`). O(connections). */
  outbound(): { pendingBytes: number; largestPendingBytes: number } {
    let pendingBytes = 0;
    let largestPendingBytes = 0;
    for (const session of this.#open) {
      const pending = session.pending;
      pendingBytes += pending;
      largestPendingBytes = Math.max(largestPendingBytes, pending);
    }
    return { pendingBytes, largestPendingBytes };
  }

  [Symbol.iterator](): IterableIterator<SubscriberSession> {
    return this.#open.values();
  }

  /**
   * The node's tail skipped messages (eviction, a new epoch, a rollback): every subscriber is told, for
   * each channel it has joined, before the first message after the hole reaches it (README
   * "Guarantees", G5). Which channels the lost messages were on is unknown, so all are told — all of
   * the bus that had the hole (`inBus`), when the node tails several.
   */
  gap(gap: TailGap, inBus?: (channel: string) => boolean): void {
    for (const session of this.#open) session.gap(gap, inBus);
  }

  /**
   * Admits a new connection from `address` with `token`: the per-address limit first, then the token.
   * Throws `rate_limited`, `unauthorized` or `token_expired`, holding nothing; otherwise the session
   * holds its connection slot until `close()`.
   */
  async connect(address: string, token: unknown, transport: SessionTransport): Promise<SubscriberSession> {
    const release = this.#deps.admitConnection(address);
    let access: ConnectionAccess;
    try {
      access = await ConnectionAccess.open(token, {
        verifier: this.#deps.subscribers,
        maxSubscriptions: this.#deps.maxSubscriptions,
        onExpired: () => transport.disconnect(errorBody(tokenExpired()).error),
      });
    } catch (err) {
      release();
      throw err;
    }
    const session = new SubscriberSession(this.#deps, this.#buses, transport, access, this.#subjects, () => {
      release();
      this.#open.delete(session);
    });
    this.#open.add(session);
    return session;
  }
}
