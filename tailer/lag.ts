/** How far behind the bus a node is, in offsets and milliseconds (pure; node.ts probes the bus). */
import type { Position } from "../shared/offsets.ts";

export interface Lag {
  offsets: number;
  ms: number;
  /** When the bus's newest position was last read. */
  checkedAt: string | null;
}

export function computeLag(
  newest: Position & { ts: Date },
  position: Position | null,
  lastDeliveredTs: Date | null,
  now: Date,
): Lag {
  const checkedAt = now.toISOString();
  if (position === null || position.epoch !== newest.epoch) {
    return { offsets: newest.offset + 1, ms: Math.max(0, now.getTime() - newest.ts.getTime()), checkedAt };
  }
  const offsets = Math.max(0, newest.offset - position.offset);
  if (offsets === 0) return { offsets, ms: 0, checkedAt };
  const from = lastDeliveredTs ?? newest.ts;
  return { offsets, ms: Math.max(0, newest.ts.getTime() - from.getTime()), checkedAt };
}
