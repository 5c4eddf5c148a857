/**
 * The slow-consumer bound (README "Slow consumers"): a connection whose outbound buffer holds more than
 * `TAILCAST_MAX_PENDING_BYTES` is cut — `/ws` close 4008 "slow consumer", Socket.IO event
 * `tailcast:slow_consumer` then a disconnect — so a client that reads slower than its channels publish
 * can neither grow the node's memory without bound nor hold up the others. The client resumes with
 * `since` and loses nothing the bus still holds.
 *
 * This module is the policy and the node-wide bookkeeping, with no I/O of its own: what a connection's
 * buffer is and how it is told and dropped is the transport's (slow-consumer-io.ts). The check after
 * each message is a comparison of a number the transport keeps anyway (`ws` `bufferedAmount`, the
 * engine.io byte count): O(1) per delivery, nothing allocated.
 *
 * A connection found over the bound is a suspect; it is cut if it is still over once the current turn
 * of the event loop has let its socket write (`setImmediate`). The tail delivers a whole batch in one
 * synchronous step, and engine.io keeps everything after the first message of that step in its own
 * buffer until the socket's write callback, even when the kernel takes it all at once: what a client
 * that reads would never hold must not count against it. A burst therefore adds at most one tail batch
 * (`TAILCAST_TAIL_BATCH` messages, whose bytes every subscriber shares) on top of the bound.
 *
 * A cut connection gets no more messages. Its close (or event) is queued behind what it already holds,
 * so a client that reads again sees it; one that makes no progress for `stallMs` is terminated, which
 * frees what it held at once.
 */

import type { Logger } from "../shared/log.ts";

export type GuardedTransport = "ws" | "socket.io";

/** A connection as the bound sees it; slow-consumer-io.ts gives one per transport. */
export interface GuardedConnection {
  readonly transport: GuardedTransport;
  /** Bytes waiting to be sent to this peer: ours and the socket's. O(1). */
  pending(): number;
  /** True while messages are still delivered to it (not cut, not closing). */
  open(): boolean;
  /** Tells the peer why (close code or event) and starts closing: nothing more is delivered to it. */
  signal(): void;
  /** Drops the connection now, freeing what it still holds. */
  terminate(): void;
  /** True once the connection is gone. */
  closed(): boolean;
  /**
   * The connection's own logger (its session's, with `connId`), set by the transport once the session
   * exists: a cut is logged through it, so the line names the connection (README "Logs").
   */
  log?: Logger;
}

export interface SlowConsumerOptions {
  /** Most bytes a connection may have waiting before it is cut (`TAILCAST_MAX_PENDING_BYTES`). */
  maxPendingBytes: number;
  /** A cut connection that reads nothing for this long is terminated. */
  stallMs: number;
}

export const defaultStallMs = 2000;

/** True when a connection holding `pending` bytes is over the bound. */
export function overBound(pending: number, maxPendingBytes: number): boolean {
  return pending > maxPendingBytes;
}

/**
 * How much a replay may leave waiting before it waits for the connection to drain (tailer/recovery.ts):
 * half the bound, so a replay never pushes a client that reads over it, and live messages that arrive
 * meanwhile have room.
 */
export function replayBudget(maxPendingBytes: number): number {
  return Math.floor(maxPendingBytes / 2);
}

/**
 * What to do with a cut connection at a stall check: keep waiting while it reads (its buffer shrank since
 * the last check) or once it holds nothing more (its close handshake ends it, or `ws`'s close timeout);
 * terminate it when it read nothing.
 */
export function stallVerdict(before: number, now: number): "wait" | "terminate" {
  return now === 0 || now < before ? "wait" : "terminate";
}

export interface SlowConsumerCounts {
  /** Connections cut for being slow, since the node started. */
  disconnects: number;
  ws: number;
  socketIo: number;
}

/** The node's bound: the check, the cuts and their count (`/stats` `slowConsumers`, metrics). */
export class SlowConsumers {
  readonly maxPendingBytes: number;
  readonly replayBudget: number;
  readonly #stallMs: number;
  readonly #onCut: (conn: GuardedConnection, pending: number) => void;
  #ws = 0;
  #socketIo = 0;
  /** Found over the bound during this turn of the event loop; checked again at its end (`settle`). */
  #suspects = new Set<GuardedConnection>();
  #settleQueued = false;

  constructor(
    options: SlowConsumerOptions,
    onCut: (conn: GuardedConnection, pending: number) => void = () => {},
  ) {
    this.maxPendingBytes = options.maxPendingBytes;
    this.replayBudget = replayBudget(options.maxPendingBytes);
    this.#stallMs = options.stallMs;
    this.#onCut = onCut;
  }

  /** Disconnects so far; a plain accessor for /stats and the metrics. */
  get counts(): SlowConsumerCounts {
    return { disconnects: this.#ws + this.#socketIo, ws: this.#ws, socketIo: this.#socketIo };
  }

  /** Cuts `conn` now if it is over the bound. */
  check(conn: GuardedConnection): void {
    const pending = conn.pending();
    if (overBound(pending, this.maxPendingBytes)) this.#cut(conn, pending);
  }

  /**
   * `conn` was found over the bound after a send: it is checked again, and cut if still over, once this
   * turn of the event loop is done. Safe to call from inside a library's send path (nothing is closed
   * there) and for every message (a suspect is kept once).
   */
  suspect(conn: GuardedConnection): void {
    this.#suspects.add(conn);
    if (this.#settleQueued) return;
    this.#settleQueued = true;
    setImmediate(() => this.settle());
  }

  /** Checks the suspects again, cutting those still over the bound. */
  settle(): void {
    this.#settleQueued = false;
    const suspects = [...this.#suspects];
    this.#suspects.clear();
    for (const conn of suspects) this.check(conn);
  }

  #cut(conn: GuardedConnection, pending: number): void {
    if (!conn.open()) return; // already cut, or closing anyway
    if (conn.transport === "ws") this.#ws++;
    else this.#socketIo++;
    this.#onCut(conn, pending);
    conn.signal();
    this.#watch(conn);
  }

  /** Terminates a cut connection that stops reading; one timer per cut connection, none otherwise. */
  #watch(conn: GuardedConnection): void {
    let before = conn.pending();
    const timer = setInterval(() => {
      if (conn.closed()) return clearInterval(timer);
      const now = conn.pending();
      if (stallVerdict(before, now) === "terminate") {
        clearInterval(timer);
        conn.terminate();
      }
      before = now;
    }, this.#stallMs);
    timer.unref();
  }
}
