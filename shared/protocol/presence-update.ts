/**
 * Presence updates on the wire (README "Presence updates"), shared by the tailer and the client: pushed
 * to a connection that subscribed to a channel with `presence: true`. Socket.IO event
 * `tailcast:presence` (a reserved event name: shared/message.ts), /ws frame `{ type: "presence_update" }`;
 * either carries a PresenceUpdate (shared/presence/summary.ts).
 */
import { isPlainObject } from "../json.ts";
import type { PresenceUpdate } from "../presence/summary.ts";

export type { PresenceUpdate };

export const PRESENCE_UPDATE_EVENT = "tailcast:presence";
export const PRESENCE_UPDATE_FRAME = "presence_update";

const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");

/** Guards an update before the client passes it on. */
export function isPresenceUpdate(v: unknown): v is PresenceUpdate {
  return (
    isPlainObject(v) &&
    typeof v.channel === "string" &&
    typeof v.subscribers === "number" &&
    typeof v.nodes === "number" &&
    (v.subjects === undefined || isStrings(v.subjects)) &&
    (v.joined === undefined || isStrings(v.joined)) &&
    (v.left === undefined || isStrings(v.left))
  );
}
