/**
 * The node's recent-messages window (G4): the last messages the tail delivered, so a client that
 * reconnects after a short absence is recovered from memory — synchronously, at a cost proportional to
 * what it returns, not to the window or the bus. Pure.
 *
 * The window covers offsets (floor, head]: every message in that range is in the buffer (offsets are
 * contiguous, so nothing can hide between two entries). A gap in the tail moves the floor up, and so
 * does eviction: the oldest message goes first, whenever the window holds more messages or more bytes
 * than its bounds. Bytes are the messages' JSON size (what `sizeOf` answers), so the bound follows what
 * the messages weigh, not how many there are (README "Configuration").
 *
 * Messages are kept per channel, in offset order, so a channel's range is found by binary search.
 * Eviction order across channels comes from one queue of the channels in delivery order.
 */
import { type Envelope, envelopeBytes } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";

export interface WindowBounds {
  /** Most messages kept. */
  messages: number;
  /** Most bytes kept, as counted by `sizeOf`. */
  bytes: number;
}

/**
 * A FIFO queue whose removed slots are cleared at once, so it never holds more than what is in it;
 * the backing array is compacted when half of it is spent.
 */
class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The i-th item from the oldest. */
  at(i: number): T {
    return this.#items[this.#head + i] as T;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    if (this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

interface Entry {
  envelope: Envelope;
  bytes: number;
}

export class RecentWindow {
  readonly #bounds: WindowBounds;
  /** Channel → its messages, oldest first. */
  #channels = new Map<string, Queue<Entry>>();
  /** The channel of every message held, in delivery order: what to evict next. */
  #order = new Queue<string>();
  #bytes = 0;
  #floor: Position | null = null;

  /** `capacity`: most messages kept; `maxBytes`: most bytes kept (no byte bound by default). */
  constructor(capacity: number, maxBytes = Number.POSITIVE_INFINITY) {
    this.#bounds = { messages: capacity, bytes: maxBytes };
  }

  get bounds(): Readonly<WindowBounds> {
    return this.#bounds;
  }

  /** Messages held. */
  get size(): number {
    return this.#order.length;
  }

  /** Bytes held, as counted at `push`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Start covering what comes after `position` (tail start, gap, new epoch). */
  reset(position: Position): void {
    this.#channels = new Map();
    this.#order = new Queue();
    this.#bytes = 0;
    this.#floor = { ...position };
  }

  /** Called for every message the tail delivers, in order; `bytes` defaults to `envelopeBytes`. */
  push(envelope: Envelope, bytes = envelopeBytes(envelope)): void {
    if (this.#floor === null || envelope.epoch !== this.#floor.epoch) {
      this.reset({ offset: envelope.offset - 1, epoch: envelope.epoch });
    }
    let queue = this.#channels.get(envelope.channel);
    if (queue === undefined) {
      queue = new Queue();
      this.#channels.set(envelope.channel, queue);
    }
    queue.push({ envelope, bytes });
    this.#order.push(envelope.channel);
    this.#bytes += bytes;
    while (this.size > this.#bounds.messages || this.#bytes > this.#bounds.bytes) this.#evictOldest();
  }

  /** Does the window hold everything after `since` up to the tail's position? */
  covers(since: Position): boolean {
    return this.#floor !== null && since.epoch === this.#floor.epoch && since.offset >= this.#floor.offset;
  }

  /** The channel's messages after `offset`, oldest first, at most `limit`. Call only when `covers`. */
  after(channel: string, offset: number, limit = Number.POSITIVE_INFINITY): Envelope[] {
    const queue = this.#channels.get(channel);
    if (queue === undefined) return [];
    // First entry with an offset above `offset`.
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (queue.at(mid).envelope.offset > offset) hi = mid;
      else lo = mid + 1;
    }
    const out: Envelope[] = [];
    for (let i = lo; i < queue.length && out.length < limit; i++) out.push(queue.at(i).envelope);
    return out;
  }

  #evictOldest(): void {
    const channel = this.#order.shift() as string;
    const queue = this.#channels.get(channel) as Queue<Entry>;
    const { envelope, bytes } = queue.shift() as Entry;
    if (queue.length === 0) this.#channels.delete(channel);
    this.#bytes -= bytes;
    this.#floor = { offset: envelope.offset, epoch: envelope.epoch };
  }
}
