/**
 * Presence updates (README "Presence updates"): the channels this node's connections subscribed to
 * with `presence: true`, and what each was last told. After each presence write (presence-writer.ts)
 * the node reads the fleet-wide summary of every watched channel — one query per 500 channels
 * (readPresenceOf), never one per connection — and pushes an update to the watchers of the channels
 * whose summary changed. A connection that starts watching gets the current summary at the next round
 * even when nothing changed.
 */
import type { Logger } from "../shared/log.ts";
import { type PresenceSummary, type PresenceUpdate, presenceUpdate } from "../shared/presence/summary.ts";

export type PresenceListener = (update: PresenceUpdate) => void;

interface Watched {
  listeners: Set<PresenceListener>;
  /** Listeners told nothing yet. */
  fresh: Set<PresenceListener>;
  /** What the listeners were last told. */
  last: PresenceSummary | null;
}

export interface PresenceWatchDeps {
  /** The fleet-wide summary of each channel asked (every one of them in the map). */
  read: (channels: readonly string[]) => Promise<Map<string, PresenceSummary>>;
  log: Logger;
}

export class PresenceWatch {
  readonly #deps: PresenceWatchDeps;
  readonly #watched = new Map<string, Watched>();
  #failing = false;

  constructor(deps: PresenceWatchDeps) {
    this.#deps = deps;
  }

  /** Channels with at least one watcher on this node. */
  get channels(): number {
    return this.#watched.size;
  }

  /** Calls `listener` with the channel's updates from the next round on; returns the idempotent unwatch. */
  watch(channel: string, listener: PresenceListener): () => void {
    let watched = this.#watched.get(channel);
    if (watched === undefined) {
      watched = { listeners: new Set(), fresh: new Set(), last: null };
      this.#watched.set(channel, watched);
    }
    watched.listeners.add(listener);
    watched.fresh.add(listener);
    const entry = watched;
    return () => {
      entry.listeners.delete(listener);
      entry.fresh.delete(listener);
      if (entry.listeners.size === 0 && this.#watched.get(channel) === entry) this.#watched.delete(channel);
    };
  }

  /** Reads the watched channels and tells their watchers what changed. Never rejects. */
  async round(): Promise<void> {
    if (this.#watched.size === 0) return;
    let summaries: Map<string, PresenceSummary>;
    try {
      summaries = await this.#deps.read([...this.#watched.keys()]);
    } catch (err) {
      if (!this.#failing)
        this.#deps.log.warn("presence updates could not be read; retrying every interval", { err });
      this.#failing = true;
      return;
    }
    if (this.#failing) this.#deps.log.info("presence updates read again");
    this.#failing = false;
    for (const [channel, summary] of summaries) {
      // Unwatched while the read ran: nobody left to tell.
      const watched = this.#watched.get(channel);
      if (watched === undefined) continue;
      const update = presenceUpdate(watched.last, summary);
      const told = update === null ? watched.fresh : watched.listeners;
      const sent = update ?? { ...summary };
      watched.last = summary;
      for (const listener of [...told]) listener(sent);
      watched.fresh.clear();
    }
  }
}
