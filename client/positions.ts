/**
 * Position tracking per subscription, pure: what to deliver and where to resume. Offsets are
 * comparable only within one epoch (README "Message envelope"); a message from another epoch starts a new sequence.
 */
import type { Position } from "../shared/offsets.ts";

/** Already delivered (a replay overlapping what arrived live, or a node repeating what another sent)? */
export function isDuplicate(position: Position | null, message: Position): boolean {
  return position !== null && position.epoch === message.epoch && message.offset <= position.offset;
}

/**
 * The position after a subscribe ack at `acked`. The ack's offset is the node's tail position: after a
 * successful subscribe the client has everything of the channel up to it, so moving there keeps later
 * resumes short. A position already further in the same epoch (a message that beat the ack) stays.
 */
export function afterAck(position: Position | null, acked: Position): Position {
  if (position === null || position.epoch !== acked.epoch || position.offset < acked.offset) {
    return { offset: acked.offset, epoch: acked.epoch };
  }
  return position;
}
