/**
 * A channel's presence across the fleet, summed from the nodes' documents (shared/presence/collection.ts).
 * Pure, and free of the driver: the protocol (shared/protocol/replies.ts) and the client use its types.
 */

/** Most subjects a document, and a reply, lists: presence is a summary, not a member list. */
export const MAX_PRESENCE_SUBJECTS = 100;

/** What both the ingest route and the tailer's `presence` request answer. */
export interface PresenceSummary {
  channel: string;
  /** Subscriber connections summed over the nodes. */
  subscribers: number;
  /** Nodes with at least one subscriber to the channel. */
  nodes: number;
  /** Present only when some node reports subjects (TAILCAST_PRESENCE_SUBJECTS=on). */
  subjects?: string[];
}

/** One node's count for the channel, as stored. */
export interface PresenceCount {
  node: string;
  subscribers: number;
  subjects?: string[];
}

/** Sums the live documents of one channel. Pure. */
export function summarizePresence(channel: string, docs: readonly PresenceCount[]): PresenceSummary {
  let subscribers = 0;
  const nodes = new Set<string>();
  let subjects: Set<string> | undefined;
  for (const doc of docs) {
    if (doc.subscribers <= 0) continue;
    subscribers += doc.subscribers;
    nodes.add(doc.node);
    if (doc.subjects === undefined) continue;
    subjects ??= new Set();
    for (const s of doc.subjects) {
      if (subjects.size >= MAX_PRESENCE_SUBJECTS) break;
      subjects.add(s);
    }
  }
  const summary: PresenceSummary = { channel, subscribers, nodes: nodes.size };
  if (subjects !== undefined) summary.subjects = [...subjects].sort();
  return summary;
}
