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

/**
 * Pushed to the connections that subscribed to a channel with `presence: true` (README "Presence
 * updates"), once when they start watching and then whenever the summary changes. `joined` and `left`
 * are the subjects that came and went since the previous update, when subjects are reported on both
 * sides of the change.
 */
export interface PresenceUpdate extends PresenceSummary {
  joined?: string[];
  left?: string[];
}

function sameSummary(a: PresenceSummary, b: PresenceSummary): boolean {
  if (a.subscribers !== b.subscribers || a.nodes !== b.nodes) return false;
  if (a.subjects === undefined || b.subjects === undefined) return a.subjects === b.subjects;
  return a.subjects.length === b.subjects.length && a.subjects.every((s, i) => s === b.subjects?.[i]);
}

/** The update from `previous` to `next` (both of one channel), or null when nothing changed. Pure. */
export function presenceUpdate(
  previous: PresenceSummary | null,
  next: PresenceSummary,
): PresenceUpdate | null {
  if (previous === null) return { ...next };
  if (sameSummary(previous, next)) return null;
  const update: PresenceUpdate = { ...next };
  if (previous.subjects !== undefined && next.subjects !== undefined) {
    const before = new Set(previous.subjects);
    const after = new Set(next.subjects);
    update.joined = next.subjects.filter((s) => !before.has(s));
    update.left = previous.subjects.filter((s) => !after.has(s));
  }
  return update;
}
