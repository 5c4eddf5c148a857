/**
 * In-memory fakes of what recovery and sessions read from the node (no I/O): a bus with eviction, a
 * tail that delivers to joined subscribers synchronously, as the real one does (tailer/live.ts).
 */
import type { BusHistory } from "../../shared/bus/history.ts";
import type { Envelope } from "../../shared/message.ts";
import { canRecover, type Position } from "../../shared/offsets.ts";
import type { LiveView } from "../../tailer/bus-router.ts";
import { newRecoveryStats } from "../../tailer/recovery.ts";
import { RecentWindow } from "../../tailer/window.ts";

export const EPOCH = "e1";

export function envelope(offset: number, channel = "a", epoch = EPOCH): Envelope {
  return {
    id: `m${offset}`,
    channel,
    event: "message",
    data: { offset },
    offset,
    epoch,
    ts: new Date(offset * 1000).toISOString(),
  };
}

/** Messages of `channels` in turn, at offsets from..to. */
export function messages(from: number, to: number, channels = ["a", "b"]): Envelope[] {
  const out: Envelope[] = [];
  for (let o = from; o <= to; o++) out.push(envelope(o, channels[o % channels.length]));
  return out;
}

/** A bus holding offsets `oldest..newest` of one epoch; reads are counted and can be intercepted. */
export class FakeBus implements BusHistory {
  docs: Envelope[];
  epoch = EPOCH;
  reads = 0;
  /** Runs before each page read (e.g. to evict, or to move the tail meanwhile). */
  beforeRead: () => void = () => {};

  constructor(docs: Envelope[]) {
    this.docs = docs;
  }

  evictThrough(offset: number): void {
    this.docs = this.docs.filter((d) => d.offset > offset);
  }

  async newest(): Promise<Position | null> {
    const last = this.docs.at(-1);
    return last ? { offset: last.offset, epoch: last.epoch } : null;
  }

  async isRecoverable(since: Position): Promise<boolean> {
    const [first, last] = [this.docs[0], this.docs.at(-1)];
    if (!first || !last) return false;
    return canRecover(since, { offset: first.offset, epoch: first.epoch }, last);
  }

  async readRange(channel: string, after: number, upTo: number, limit: number): Promise<Envelope[]> {
    this.beforeRead();
    this.reads++;
    return this.docs
      .filter((d) => d.channel === channel && d.offset > after && d.offset <= upTo)
      .slice(0, limit);
  }
}

export type Listener = (e: Envelope) => void;

/**
 * A node's tail at `position`: `deliver` moves it and hands the message to every joined listener in
 * the same synchronous step, like the fan-out. `onWait` runs when a recovery waits for it to advance.
 */
export class FakeTail implements LiveView {
  readonly window: RecentWindow;
  readonly stats = newRecoveryStats();
  readonly joined = new Map<string, Set<Listener>>();
  pos: Position;
  /** What `ready()` answers: has the node a position on the bus yet? */
  isReady = true;
  waits = 0;
  onWait: () => void = () => {};

  constructor(position: Position, windowCapacity = 100) {
    this.pos = position;
    this.window = new RecentWindow(windowCapacity);
    this.window.reset(position);
  }

  position(): Position {
    return this.pos;
  }

  ready(): boolean {
    return this.isReady;
  }

  async advanced(): Promise<void> {
    this.waits++;
    this.onWait();
  }

  deliver(...envelopes: Envelope[]): void {
    for (const e of envelopes) {
      this.window.push(e);
      this.pos = { offset: e.offset, epoch: e.epoch };
      for (const listener of this.joined.get(e.channel) ?? []) listener(e);
    }
  }

  join(channel: string, listener: Listener): void {
    let set = this.joined.get(channel);
    if (!set) {
      set = new Set();
      this.joined.set(channel, set);
    }
    set.add(listener);
  }

  leave(channel: string, listener: Listener): void {
    this.joined.get(channel)?.delete(listener);
  }
}
