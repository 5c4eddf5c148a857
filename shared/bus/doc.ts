/** The document stored in the bus, and its mapping to the envelope subscribers receive. */
import type { Envelope } from "../message.ts";

export interface MessageDoc {
  _id: string;
  offset: number;
  epoch: string;
  channel: string;
  event: string;
  /** JSON text of `data` (see shared/message.ts). */
  data: string;
  ts: Date;
  /** Scoped idempotency key (publisher + key), when the publisher gave one (G7). */
  ik?: string;
}

/** Written when a bus is created so it is never empty: a tailable cursor on an empty capped collection dies at once (docs/mongodb.md). */
export interface SentinelDoc {
  _id: string;
  offset: number;
  epoch: string;
  kind: "sentinel";
  ts: Date;
}

export type BusDoc = MessageDoc | SentinelDoc;

export function isSentinel(doc: BusDoc): doc is SentinelDoc {
  return (doc as SentinelDoc).kind === "sentinel";
}

export function toEnvelope(doc: MessageDoc): Envelope {
  return {
    id: doc._id,
    channel: doc.channel,
    event: doc.event,
    data: JSON.parse(doc.data) as unknown,
    offset: doc.offset,
    epoch: doc.epoch,
    ts: doc.ts.toISOString(),
  };
}
