/**
 * Which presence documents a node writes at each interval (README "Presence"), computed from what it
 * wrote before, what it counts now and the time. Pure: the writer (tailer/presence-writer.ts) does the
 * I/O and commits the plan once the write succeeded, so a failed write is simply planned again.
 *
 * A node writes a channel's document when its count (or, with subjects on, its subject set) changed,
 * deletes it when the count dropped to zero, and otherwise only refreshes it before it expires. The
 * refreshes are spread: at most a 1/REFRESH_EVERY_INTERVALS share of the node's documents per
 * interval, oldest first, so documents written together (a node's start) do not all come due at once.
 * A document whose age reaches the deadline is refreshed whatever the budget. Steady state, with no
 * change: channels / REFRESH_EVERY_INTERVALS writes per interval.
 */

/** A document lives this many intervals after its last write (its `expiresAt`). */
export const TTL_INTERVALS = 12;
/** Every document is refreshed about this often when nothing changes (the spread budget). */
export const REFRESH_EVERY_INTERVALS = 8;
/** Refreshed whatever the budget once this old: three failed writes in a row still leave it alive. */
export const DEADLINE_INTERVALS = TTL_INTERVALS - 3;

/** What the node counts now for one channel. `rev` changes whenever its set of token subjects does. */
export interface ChannelCount {
  readonly subscribers: number;
  readonly rev: number;
}

/** What the node last wrote for one channel, and when (the database server's clock, ms). */
export interface WrittenChannel {
  subscribers: number;
  rev: number;
  writtenAt: number;
}

/**
 * The channels written so far. A Map iterates in insertion order, and a write re-inserts its channel
 * (commitPresencePlan), so the oldest write comes first: refreshes read only the head.
 */
export type WrittenPresence = Map<string, WrittenChannel>;

/** One document to write: the channel's count as planned (the live count may move on during the write). */
export interface PlannedWrite extends ChannelCount {
  readonly channel: string;
}

export interface PresencePlan {
  /** Channels whose count (or subjects) changed, or new ones: written in full. */
  changed: PlannedWrite[];
  /** Unchanged channels whose document is refreshed (written in full too: a refresh also heals a lost document). */
  refreshes: PlannedWrite[];
  /** Channels the node no longer has subscribers for: their documents go. */
  deletes: string[];
}

export function presenceTtlMs(intervalMs: number): number {
  return TTL_INTERVALS * intervalMs;
}

export function planPresence(
  written: ReadonlyMap<string, WrittenChannel>,
  current: ReadonlyMap<string, ChannelCount>,
  now: number,
  intervalMs: number,
): PresencePlan {
  const changed: PlannedWrite[] = [];
  const deletes: string[] = [];
  const rewritten = new Set<string>();
  for (const [channel, { subscribers, rev }] of current) {
    if (subscribers <= 0) continue;
    const before = written.get(channel);
    if (before === undefined || before.subscribers !== subscribers || before.rev !== rev) {
      changed.push({ channel, subscribers, rev });
      rewritten.add(channel);
    }
  }
  for (const channel of written.keys()) {
    if ((current.get(channel)?.subscribers ?? 0) <= 0) deletes.push(channel);
  }
  const budget = Math.ceil(written.size / REFRESH_EVERY_INTERVALS);
  const refreshes: PlannedWrite[] = [];
  for (const [channel, doc] of written) {
    const age = now - doc.writtenAt;
    if (age < intervalMs) break; // everything after is younger still
    const due = age >= DEADLINE_INTERVALS * intervalMs;
    if (!due && refreshes.length >= budget) break;
    const count = current.get(channel);
    if (rewritten.has(channel) || count === undefined || count.subscribers <= 0) continue;
    refreshes.push({ channel, subscribers: count.subscribers, rev: count.rev });
  }
  return { changed, refreshes, deletes };
}

/** Records a plan the database acknowledged, written at `now`. */
export function commitPresencePlan(written: WrittenPresence, plan: PresencePlan, now: number): void {
  for (const channel of plan.deletes) written.delete(channel);
  for (const { channel, subscribers, rev } of [...plan.refreshes, ...plan.changed]) {
    written.delete(channel); // re-inserted last: the newest write
    written.set(channel, { subscribers, rev, writtenAt: now });
  }
}

/** Operations in a plan: what one interval costs the database. */
export function planSize(plan: PresencePlan): number {
  return plan.changed.length + plan.refreshes.length + plan.deletes.length;
}
