/**
 * Client recovery (G4): replay what a subscriber missed, then hand it to the live stream with no
 * hole and no duplicate at the seam. Pure logic over three small interfaces — the node's view of its
 * tail (tailer/live.ts), the bus's history (shared/bus/history.ts) and the subscriber (tailer/session.ts)
 * — so every path is unit-tested with fakes.
 *
 * Recent ranges come from the node's in-memory window, older ones from the bus. The bus replay reads
 * up to the node's own tail position P, emits that, and repeats while the tail moves on. Joining the
 * live stream happens in the same synchronous step that checked P: the tail delivers synchronously, so
 * every message after P reaches the subscriber through the join, and none at or before P does.
 *
 * The replay respects back-pressure: it emits a page at a time (from the window or the bus) and waits for
 * the subscriber's connection to drain before the next, so a resume from far back never buffers a whole
 * channel in the node. A page also ends early once the connection is backlogged (half the slow-consumer
 * bound in bytes, tailer/slow-consumer.ts), so a replay never gets a client that reads cut as a slow
 * consumer. Only the last window page, the one followed by the join, is emitted without a wait after it —
 * the seam must stay synchronous.
 */
import type { BusHistory } from "../shared/bus/history.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";

export interface RecoveryTarget {
  emit(envelope: Envelope): void;
  /** Joins the live stream; must be synchronous. */
  join(): void;
  /** False once the subscriber went away or a later request replaced this one, so a replay stops early. */
  connected(): boolean;
  /**
   * Resolves once what was emitted so far has left the node (the connection's send buffer is empty),
   * or the connection is gone: a replay waits for it between pages instead of buffering a whole channel.
   */
  drained(): Promise<void>;
  /** True when the connection holds as much as a replay may add before it waits for `drained`. */
  backlogged(): boolean;
}

/**
 * Emits `page` from `from` on, until the target is backlogged (at least one message, so a replay always
 * moves on); returns the index of the first message not emitted.
 */
function emitUntilBacklogged(page: Envelope[], from: number, target: RecoveryTarget): number {
  let i = from;
  do target.emit(page[i++] as Envelope);
  while (i < page.length && !target.backlogged());
  return i;
}

/**
 * Where a finished recovery replayed from: the node's window, the bus (for part of the range or all of
 * it), or neither (`since` of another epoch, or nothing to replay that the window still covered).
 */
export const RECOVERY_SOURCES = ["window", "bus", "none"] as const;
export type RecoverySource = (typeof RECOVERY_SOURCES)[number];

export interface RecoveryStats {
  /** Subscribes with `since`. */
  served: number;
  fromWindow: number;
  fromBus: number;
  /** Answered `recovered: false` (G5). */
  unrecovered: number;
  /** Finished recoveries by source and result (the metrics' `tailcast_recoveries_total`). */
  outcomes: Record<RecoverySource, { recovered: number; unrecovered: number }>;
}

export function newRecoveryStats(): RecoveryStats {
  const outcome = () => ({ recovered: 0, unrecovered: 0 });
  return {
    served: 0,
    fromWindow: 0,
    fromBus: 0,
    unrecovered: 0,
    outcomes: { window: outcome(), bus: outcome(), none: outcome() },
  };
}

/** The recent messages a node keeps (tailer/window.ts). */
export interface RecoveryWindow {
  /** Does it hold every message after `since` up to the tail's position? */
  covers(since: Position): boolean;
  /** The channel's messages after `offset`, oldest first, at most `limit`. */
  after(channel: string, offset: number, limit: number): Envelope[];
}

/** What recovery needs of the node's tail; tailer/live.ts gives it, complete. */
export interface TailView {
  /** Where the tail is; only asked once the node is ready (it has a position from then on). */
  position(): Position;
  /** Resolves when the tail moves past its current position (or after a while, to re-check). */
  advanced(): Promise<void>;
  readonly window: RecoveryWindow;
  readonly stats: RecoveryStats;
}

export interface RecoveryOptions {
  /** Messages per bus read, and per window page: the replay waits for the subscriber to drain between pages. */
  page: number;
  /** How long a subscriber from a node further ahead waits for this one to catch up before being told to retry. */
  catchUpMs: number;
  /** Milliseconds since the epoch. */
  clock: () => number;
}

export const defaultRecoveryOptions: Readonly<RecoveryOptions> = Object.freeze({
  page: 500,
  // Well under the client's subscribe timeout (client/client.ts `timeoutMs`, 10 s), so a client on a
  // lagging node hears `bus_unavailable` and moves on to another node instead of timing out while the
  // node still waits — and replay time after the wait still fits (README "TypeScript client").
  catchUpMs: 5_000,
  clock: Date.now,
});

/** The node has no position yet, or a subscriber is ahead of it for too long: retry, maybe elsewhere. */
export function notReady(): TailcastError {
  return new TailcastError(
    ErrorCode.busUnavailable,
    "This node cannot serve the channel's bus right now (starting, behind, or its database is not answering); retry.",
    {
      retryAfter: 1,
    },
  );
}

export interface Recovered {
  /** False when part of the range was evicted or `since` is of another epoch (G5). */
  recovered: boolean;
  /** The node's position at the join: the subscriber has every message of the channel up to it. */
  position: Position;
}

export async function replayThenJoin(
  bus: BusHistory,
  channel: string,
  since: Position,
  tail: TailView,
  target: RecoveryTarget,
  options: RecoveryOptions = defaultRecoveryOptions,
): Promise<Recovered> {
  const { stats } = tail;
  stats.served++;
  let usedBus = false;
  const done = (recovered: boolean, from: "window" | null = null): Recovered => {
    if (!recovered) stats.unrecovered++;
    const source: RecoverySource = usedBus ? "bus" : (from ?? "none");
    stats.outcomes[source][recovered ? "recovered" : "unrecovered"]++;
    return { recovered, position: tail.position() };
  };
  let checkedAhead = false;
  // False once part of the range is known to be evicted; what is still retained is replayed anyway
  // (README "Guarantees", G5).
  let complete = true;
  const waitUntil = options.clock() + options.catchUpMs;
  let after = since.offset;
  for (;;) {
    const current = tail.position();
    if (current.epoch !== since.epoch) {
      target.join();
      return done(false);
    }
    if (after > current.offset && target.connected()) {
      // The subscriber comes from a node that is ahead of this one: wait, or the live stream would repeat
      // what it has. A position past the newest offset of the same epoch was never real: refuse it rather
      // than wait. A bus of another epoch (dropped and recreated, or missing for a moment) is not the
      // subscriber's fault: wait for this node's tail to reach it, and the subscriber gets recovered:false.
      if (!checkedAhead) {
        checkedAhead = true;
        const newest = await bus.newest();
        if (newest !== null && newest.epoch === since.epoch && since.offset > newest.offset) {
          throw new TailcastError(ErrorCode.invalidRequest, "`since` is ahead of everything the bus holds.");
        }
      }
      if (options.clock() > waitUntil) throw notReady();
      await tail.advanced();
      continue;
    }
    if (tail.window.covers({ offset: after, epoch: since.epoch })) {
      const page = tail.window.after(channel, after, options.page);
      const sent = page.length === 0 ? 0 : emitUntilBacklogged(page, 0, target);
      if (sent === page.length && page.length < options.page) {
        target.join();
        if (!usedBus) stats.fromWindow++;
        return done(complete, "window");
      }
      // More may follow: wait for the subscriber, then look again (the window may have moved on, or
      // evicted what comes next: the bus has it then).
      after = (page[sent - 1] as Envelope).offset;
      await target.drained();
      if (!target.connected()) return { recovered: false, position: tail.position() };
      continue;
    }
    if (after === current.offset) {
      target.join();
      return done(complete);
    }
    if (!usedBus) {
      usedBus = true;
      stats.fromBus++;
    }
    const page = await bus.readRange(channel, after, current.offset, options.page);
    if (!target.connected()) return { recovered: false, position: current };
    // Checked after the read, not once before the replay: eviction between the check and a read, or
    // between pages, removes exactly the messages after `after`. The bus evicts oldest first, so if
    // `after + 1` is still retained now, nothing this page asked for was gone when it was read.
    if (complete) complete = await bus.isRecoverable({ offset: after, epoch: since.epoch });
    for (let sent = 0; sent < page.length; ) {
      sent = emitUntilBacklogged(page, sent, target);
      await target.drained();
      if (!target.connected()) return { recovered: false, position: tail.position() };
    }
    after = page.length === options.page ? (page.at(-1) as Envelope).offset : current.offset;
  }
}
