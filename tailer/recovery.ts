/**
 * Client recovery (G4): replay what a subscriber missed, then hand it to the live stream with no
 * hole and no duplicate at the seam.
 *
 * Recent ranges come from the node's in-memory window, older ones from the bus. The bus replay reads
 * up to the node's own tail position P, emits that, and repeats while the tail moves on. Joining the
 * live room happens in the same synchronous step that checked P: the tail delivers synchronously, so
 * every message after P reaches the room after the join, and none at or before P does.
 */
import type { Collection } from "mongodb";
import { newestPosition } from "../shared/bus/collection.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import { isRecoverable, readRange } from "../shared/bus/history.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";
import type { RecentWindow } from "./window.ts";

const PAGE = 500;

export function notReady(): TailcastError {
  return new TailcastError(ErrorCode.busUnavailable, "This node is not following the bus yet; retry.", {
    retryAfter: 1,
  });
}
/** How long a subscriber from a node further ahead waits for this one to catch up before being told to retry. */
const CATCH_UP_MS = 30_000;

export interface RecoveryTarget {
  emit(envelope: Envelope): void;
  /** Joins the live stream; must be synchronous. */
  join(): void;
  /** False once the subscriber went away, so a long replay stops early. */
  connected(): boolean;
}

export interface RecoveryStats {
  /** Subscribes with `since`. */
  served: number;
  fromWindow: number;
  fromBus: number;
  /** Answered `recovered: false` (G5). */
  unrecovered: number;
}

export interface TailView {
  position(): Position;
  /** Resolves when the tail moves past its current position (or after a while, to re-check). */
  advanced(): Promise<void>;
  window?: RecentWindow;
  stats?: RecoveryStats;
}

export function newRecoveryStats(): RecoveryStats {
  return { served: 0, fromWindow: 0, fromBus: 0, unrecovered: 0 };
}

export async function replayThenJoin(
  bus: Collection<BusDoc>,
  channel: string,
  since: Position,
  tail: TailView,
  target: RecoveryTarget,
): Promise<{ recovered: boolean; position: Position }> {
  const stats = tail.stats;
  if (stats) stats.served++;
  const done = (recovered: boolean) => {
    if (!recovered && stats) stats.unrecovered++;
    return { recovered, position: tail.position() };
  };
  let usedBus = false;
  let checkedAhead = false;
  // False once part of the range is known to be evicted; what is still retained is replayed anyway (brief §2).
  let complete = true;
  const waitUntil = Date.now() + CATCH_UP_MS;
  let after = since.offset;
  for (;;) {
    const current = tail.position();
    if (current.epoch !== since.epoch) {
      target.join();
      return done(false);
    }
    if (after > current.offset && target.connected()) {
      // The subscriber comes from a node that is ahead of this one: wait, or the live stream would repeat
      // what it has. A position past the bus's newest offset was never real: refuse it rather than wait.
      if (!checkedAhead) {
        checkedAhead = true;
        const newest = await newestPosition(bus);
        if (newest === null || newest.epoch !== since.epoch || since.offset > newest.offset) {
          throw new TailcastError(ErrorCode.invalidRequest, "`since` is ahead of everything the bus holds.");
        }
      }
      if (Date.now() > waitUntil) throw notReady();
      await tail.advanced();
      continue;
    }
    const window = tail.window;
    if (window?.covers({ offset: after, epoch: since.epoch })) {
      for (const envelope of window.after(channel, after)) target.emit(envelope);
      target.join();
      if (stats && !usedBus) stats.fromWindow++;
      return done(complete);
    }
    if (after === current.offset) {
      target.join();
      return done(complete);
    }
    if (!usedBus) {
      usedBus = true;
      if (stats) stats.fromBus++;
      complete = await isRecoverable(bus, { offset: after, epoch: since.epoch });
    }
    const page = await readRange(bus, channel, after, current.offset, PAGE);
    if (!target.connected()) return { recovered: false, position: current };
    for (const envelope of page) target.emit(envelope);
    after = page.length === PAGE ? (page.at(-1) as Envelope).offset : current.offset;
  }
}
