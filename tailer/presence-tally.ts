/**
 * This node's subscribers per channel, kept up to date as connections join and leave channels
 * (tailer/session.ts), so the presence writer (presence-writer.ts) reads counts without walking every
 * connection. In memory only: a join or a leave never touches the database.
 */
import type { ChannelCount } from "../shared/presence/plan.ts";

interface Entry extends ChannelCount {
  subscribers: number;
  rev: number;
  /** Subject → connections of it on this channel (kept only with subjects on). */
  subjects: Map<string, number> | null;
}

export class PresenceTally {
  readonly #entries = new Map<string, Entry>();
  readonly #withSubjects: boolean;
  /** One counter for every entry: a channel that empties and comes back never reuses a `rev`. */
  #revs = 0;

  constructor(options: { subjects: boolean }) {
    this.#withSubjects = options.subjects;
  }

  /** Channel → count; live (read it synchronously). */
  get counts(): ReadonlyMap<string, ChannelCount> {
    return this.#entries;
  }

  /** One more connection of `subject` (null: auth off) on `channel`. */
  join(channel: string, subject: string | null): void {
    let entry = this.#entries.get(channel);
    if (entry === undefined) {
      entry = { subscribers: 0, rev: ++this.#revs, subjects: this.#withSubjects ? new Map() : null };
      this.#entries.set(channel, entry);
    }
    entry.subscribers++;
    if (entry.subjects === null || subject === null) return;
    const n = entry.subjects.get(subject) ?? 0;
    entry.subjects.set(subject, n + 1);
    if (n === 0) entry.rev = ++this.#revs;
  }

  leave(channel: string, subject: string | null): void {
    const entry = this.#entries.get(channel);
    if (entry === undefined) return;
    entry.subscribers--;
    if (entry.subscribers <= 0) {
      this.#entries.delete(channel);
      return;
    }
    if (entry.subjects === null || subject === null) return;
    const n = entry.subjects.get(subject) ?? 0;
    if (n <= 1) {
      entry.subjects.delete(subject);
      entry.rev = ++this.#revs;
    } else entry.subjects.set(subject, n - 1);
  }

  /** The channel's distinct subjects, the longest-present first, at most `max`; undefined with subjects off. */
  subjects(channel: string, max: number): string[] | undefined {
    if (!this.#withSubjects) return undefined;
    const subjects = this.#entries.get(channel)?.subjects;
    if (!subjects) return [];
    const out: string[] = [];
    for (const s of subjects.keys()) {
      if (out.length >= max) break;
      out.push(s);
    }
    return out;
  }
}
