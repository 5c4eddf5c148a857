/**
 * Client recovery (G4): replay what a subscriber missed, then hand it to the live stream with no
 * hole and no duplicate at the seam.
 *
 * The replay reads the bus up to the node's own tail position P, emits that, and repeats while the
 * tail moves on. Once the replay has reached P it joins the live room in the same synchronous step
 * that checked P: the tail delivers synchronously, so every message after P reaches the room after
 * the join, and none at or before P does.
 */
import type { Collection } from "mongodb";
import type { BusDoc } from "../shared/bus/doc.ts";
import { isRecoverable, readRange } from "../shared/bus/history.ts";
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";

const PAGE = 500;

export interface RecoveryTarget {
  emit(envelope: Envelope): void;
  /** Joins the live stream; must be synchronous. */
  join(): void;
  /** False once the subscriber went away, so a long replay stops early. */
  connected(): boolean;
}

export interface TailView {
  position(): Position;
  /** Resolves when the tail moves past its current position (or after a while, to re-check). */
  advanced(): Promise<void>;
}

export async function replayThenJoin(
  bus: Collection<BusDoc>,
  channel: string,
  since: Position,
  tail: TailView,
  target: RecoveryTarget,
): Promise<{ recovered: boolean; position: Position }> {
  const position = () => tail.position();
  let current = position();
  if (since.epoch !== current.epoch || !(await isRecoverable(bus, since))) {
    target.join();
    return { recovered: false, position: position() };
  }
  let after = since.offset;
  for (;;) {
    current = position();
    if (after > current.offset && current.epoch === since.epoch && target.connected()) {
      // The subscriber comes from a node that is ahead of this one: wait, or the live stream would repeat what it has.
      await tail.advanced();
      continue;
    }
    if (after === current.offset || current.epoch !== since.epoch) {
      target.join();
      return { recovered: current.epoch === since.epoch, position: current };
    }
    const page = await readRange(bus, channel, after, current.offset, PAGE);
    if (!target.connected()) return { recovered: false, position: current };
    for (const envelope of page) target.emit(envelope);
    after = page.length === PAGE ? (page.at(-1) as Envelope).offset : current.offset;
  }
}
