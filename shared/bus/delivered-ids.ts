/**
 * What a tail delivered, by offset, so a re-open can prove that the bus still holds the same documents
 * (docs/offsets.md "Rollback"). On a replica set, a tail reading with the default read concern can
 * deliver documents the primary applied but never replicated; after a failover the new primary gives
 * their offsets to other, acknowledged messages. Offsets alone cannot tell the two apart; `_id`s can.
 * Pure.
 */
import type { Position } from "../offsets.ts";

/** Offsets → `_id`s of the last `capacity` documents delivered, oldest first. */
export class DeliveredIds {
  readonly #capacity: number;
  readonly #ids = new Map<number, string>();
  #epoch: string | null = null;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  record(position: Position, id: string): void {
    if (position.epoch !== this.#epoch) {
      this.#ids.clear();
      this.#epoch = position.epoch;
    }
    this.#ids.set(position.offset, id);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.keys().next().value as number;
      this.#ids.delete(oldest);
    }
  }

  /** The `_id` delivered at `position`, if still remembered. */
  idAt(position: Position): string | undefined {
    return position.epoch === this.#epoch ? this.#ids.get(position.offset) : undefined;
  }

  /** The oldest offset remembered, or null. */
  oldest(): number | null {
    const first = this.#ids.keys().next();
    return first.done ? null : first.value;
  }

  /** Forgets everything from `offset` on (a rollback replaced it). */
  forgetFrom(offset: number): void {
    for (const o of [...this.#ids.keys()]) if (o >= offset) this.#ids.delete(o);
  }
}

/**
 * The re-read document at the tail's own position is not the one it delivered there: the bus was
 * rolled back and the offset reused. Unknown when the delivered `_id` is not remembered (not a rollback
 * as far as anyone can tell).
 */
export function isRolledBack(delivered: DeliveredIds, reread: Position & { _id: string }): boolean {
  const id = delivered.idAt(reread);
  return id !== undefined && id !== reread._id;
}

/**
 * Where the bus stopped holding what was delivered: the first offset of `docs` (the bus's documents
 * from the oldest remembered offset up to the tail's position, in offset order) whose `_id` differs from
 * the one delivered, or that is missing. Everything from the first of `docs` up to it is what the tail
 * delivered.
 */
export function divergence(
  delivered: DeliveredIds,
  docs: Array<Position & { _id: string }>,
  position: Position,
): number {
  // What was evicted since cannot be compared: start at the first document still there.
  let expected = docs[0]?.offset ?? position.offset;
  for (const doc of docs) {
    if (doc.offset !== expected || delivered.idAt(doc) !== doc._id) return expected;
    expected++;
  }
  return Math.min(expected, position.offset);
}
