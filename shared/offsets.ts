/**
 * Offset and epoch logic, pure (docs/offsets.md explains the design).
 *
 * Every bus document carries `offset`, an integer one above its predecessor's in bus (natural)
 * order, and `epoch`, a name for the bus incarnation copied from its predecessor. Offsets are
 * therefore contiguous across the whole bus: a jump between two documents a reader sees in a row
 * means documents were lost to it (evicted), never that offsets were skipped.
 */

export interface Position {
  offset: number;
  epoch: string;
}

/** What a reader that has reached `position` should do with the next document it reads. */
export type Step =
  | { kind: "duplicate" }
  | { kind: "next" }
  | { kind: "gap"; missed: number }
  | { kind: "epoch_changed" };

export function classifyStep(position: Position, doc: Position): Step {
  if (doc.epoch !== position.epoch) return { kind: "epoch_changed" };
  if (doc.offset <= position.offset) return { kind: "duplicate" };
  if (doc.offset === position.offset + 1) return { kind: "next" };
  return { kind: "gap", missed: doc.offset - position.offset - 1 };
}

/** Offsets for `count` documents appended after `last`. */
export function offsetsAfter(last: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => last + 1 + i);
}

/**
 * Can a reader that has seen everything up to `since` be brought up to date from what the bus still
 * holds? Yes iff the epoch is the same and the first offset it misses (`since.offset + 1`) is still
 * retained (at or after the oldest retained offset).
 */
export function canRecover(since: Position, oldestRetained: Position | null, newest: Position): boolean {
  if (since.epoch !== newest.epoch) return false;
  if (since.offset > newest.offset) return false;
  if (since.offset === newest.offset) return true;
  if (oldestRetained === null || oldestRetained.epoch !== newest.epoch) return false;
  return since.offset + 1 >= oldestRetained.offset;
}

export function isValidOffset(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}
