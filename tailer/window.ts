/**
 * The node's recent-messages window (G4): the last N envelopes the tail delivered, so a client that
 * reconnects after a short absence is recovered from memory — synchronously, at a cost proportional to
 * the window, not to the bus. Pure.
 *
 * The window covers offsets (floor, head]: every message in that range is in the buffer (offsets are
 * contiguous, so nothing can hide between two entries). A gap in the tail moves the floor up.
 */
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";

export class RecentWindow {
  readonly #capacity: number;
  #buf: Envelope[] = [];
  #start = 0;
  #floor: Position | null = null;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#buf.length - this.#start;
  }

  /** Start covering what comes after `position` (tail start, gap, new epoch). */
  reset(position: Position): void {
    this.#buf = [];
    this.#start = 0;
    this.#floor = { ...position };
  }

  /** Called for every message the tail delivers, in order. */
  push(envelope: Envelope): void {
    if (this.#floor === null || envelope.epoch !== this.#floor.epoch) {
      this.reset({ offset: envelope.offset - 1, epoch: envelope.epoch });
    }
    this.#buf.push(envelope);
    if (this.size > this.#capacity) {
      this.#floor = { offset: (this.#buf[this.#start] as Envelope).offset, epoch: envelope.epoch };
      this.#start++;
      // Compact now and then instead of shifting on every push.
      if (this.#start > this.#capacity) {
        this.#buf = this.#buf.slice(this.#start);
        this.#start = 0;
      }
    }
  }

  /** Does the window hold everything after `since` up to the tail's position? */
  covers(since: Position): boolean {
    return this.#floor !== null && since.epoch === this.#floor.epoch && since.offset >= this.#floor.offset;
  }

  /** The channel's messages after `offset`, oldest first. Call only when `covers`. */
  after(channel: string, offset: number): Envelope[] {
    const out: Envelope[] = [];
    for (let i = this.#start; i < this.#buf.length; i++) {
      const e = this.#buf[i] as Envelope;
      if (e.offset > offset && e.channel === channel) out.push(e);
    }
    return out;
  }
}
