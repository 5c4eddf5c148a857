/**
 * Appending to the bus with offsets that strictly increase in bus order (docs/offsets.md).
 *
 * A writer reads the newest offset N and inserts its documents as N+1, N+2, … A unique index on
 * `offset` lets exactly one concurrent writer claim N+1; the others get a duplicate-key error, re-read
 * and retry. Because a writer only claims N+1 after N is committed, natural order equals offset order.
 * Within one process, requests that arrive while an insert is in flight are grouped into the next
 * insert, so a busy process contends with other processes, never with itself.
 */
import { randomUUID } from "node:crypto";
import type { Collection, WriteConcernSettings } from "mongodb";
import { backoffDelay, sleep } from "../backoff.ts";
import { ErrorCode, TailcastError } from "../errors.ts";
import type { OutgoingMessage } from "../message.ts";
import { offsetsAfter, type Position } from "../offsets.ts";
import { ignoreError } from "../promises.ts";
import { newestPosition } from "./collection.ts";
import type { BusDoc, MessageDoc } from "./doc.ts";
import { lostRaceAt } from "./write-errors.ts";

/** What a publisher is told about one message: where it is in the bus (the body of a 201). */
export interface Receipt {
  id: string;
  channel: string;
  offset: number;
  epoch: string;
}

/** A message the bus acknowledged: its receipt and the time the bus accepted it. */
export interface Appended extends Receipt {
  ts: Date;
}

export const receiptOf = (a: Appended | MessageDoc): Receipt => ({
  id: "id" in a ? a.id : a._id,
  channel: a.channel,
  offset: a.offset,
  epoch: a.epoch,
});

export interface AppendOptions {
  writeConcern: WriteConcernSettings;
  /** Most documents per insert; a single request is never split. */
  maxDocsPerInsert: number;
  /** Rounds of read-then-insert lost to other writers before giving up with 503. */
  maxAttempts: number;
  /**
   * Longest time from `append` to the end of its last database operation: time left is sent as each
   * operation's `maxTimeMS` (and caps the write concern's `wtimeout`), and nothing is sent once it is
   * gone. Idempotency's takeover relies on this bound (shared/bus/idempotency.ts).
   */
  timeoutMs: number;
  /** Messages waiting for the writer beyond which `append` is refused at once with 503 + Retry-After. */
  maxQueuedDocs: number;
  /** Monotonic milliseconds (performance.now by default); injectable for tests. */
  now?: () => number;
  /** Forgets the bus setup, so the next `bus()` sets the bus up again (it was dropped or emptied). */
  resetBus?: () => void;
  observer?: AppendObserver;
}

/** What the writer reports as it works (functions/metrics.ts counts it); every hook optional. */
export interface AppendObserver {
  /** An insert group was formed of this many messages (group commit). */
  grouped?(messages: number): void;
  /** This many messages are in the bus, acknowledged. */
  appended?(messages: number): void;
  /** An insert lost the race for its offset to another writer. */
  conflicted?(): void;
  /** The writer reads the newest offset again and retries. */
  retried?(reason: "offset_conflict" | "bus_reset"): void;
}

/** A message for the bus, with its scoped idempotency key if it has one. */
export type AppendItem = OutgoingMessage & { ik?: string };

/**
 * FerretDB v1.24 applies an ordered insertMany in batches of 100 and goes on with later batches after
 * an error in an earlier one, so "everything before the first error" would not hold for larger
 * inserts. Chunks of 100 keep ordered semantics there; MongoDB is unaffected either way.
 */
const INSERT_CHUNK = 100;

interface Pending {
  messages: AppendItem[];
  deadline: number;
  resolve: (r: Appended[]) => void;
  reject: (e: unknown) => void;
}

export class BusWriter {
  readonly #bus: () => Promise<Collection<BusDoc>>;
  readonly #options: AppendOptions;
  #queue: Pending[] = [];
  #queuedDocs = 0;
  #draining = false;
  /** Callers of `idle()` waiting for the queue to empty. */
  #idle: Array<() => void> = [];

  constructor(bus: () => Promise<Collection<BusDoc>>, options: AppendOptions) {
    this.#bus = bus;
    this.#options = options;
  }

  /** Resolves once every message is in the bus with the configured write concern (G6). */
  append(messages: AppendItem[]): Promise<Appended[]> {
    if (this.#queuedDocs + messages.length > this.#options.maxQueuedDocs) {
      return Promise.reject(
        new TailcastError(ErrorCode.busUnavailable, "The writer is overloaded; retry.", {
          retryAfter: 1,
          reason: "writer_queue_full",
        }),
      );
    }
    const deadline = this.#now() + this.#options.timeoutMs;
    this.#queuedDocs += messages.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ messages, deadline, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  /**
   * Resolves once nothing is queued or being written: every group taken has been answered. A process
   * that stops waits for it before closing its database client (functions/drain.ts).
   */
  idle(): Promise<void> {
    if (!this.#draining && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const group: Pending[] = [];
        let docs = 0;
        while (this.#queue.length > 0) {
          const next = this.#queue[0] as Pending;
          if (group.length > 0 && docs + next.messages.length > this.#options.maxDocsPerInsert) break;
          this.#queue.shift();
          this.#queuedDocs -= next.messages.length;
          if (next.deadline <= this.#now()) {
            next.reject(timedOut(this.#options.timeoutMs));
            continue;
          }
          group.push(next);
          docs += next.messages.length;
        }
        await this.#write(group);
      }
    } finally {
      this.#draining = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  #now(): number {
    return this.#options.now?.() ?? performance.now();
  }

  /** Milliseconds the group may still spend on one operation; throws once none are left. */
  #remaining(group: Pending[]): number {
    const left = Math.min(...group.map((p) => p.deadline)) - this.#now();
    if (left <= 0) throw timedOut(this.#options.timeoutMs);
    return Math.ceil(left);
  }

  /**
   * One database call of the group, given the time left as its server-side limit and abandoned a little
   * after it, so that a call that never settles (README "Known issues") cannot hold the writer forever.
   * An abandoned insert may still land, like one whose write concern timed out: a retry with its
   * Idempotency-Key finds it (shared/bus/idempotency.ts).
   */
  async #bounded<T>(group: Pending[], call: (maxTimeMS: number) => Promise<T>): Promise<T> {
    const left = this.#remaining(group);
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut(this.#options.timeoutMs)), left + SERVER_LIMIT_GRACE_MS);
    });
    const work = call(left);
    work.catch(ignoreError); // settles after it was abandoned: nobody is waiting any more
    try {
      return await Promise.race([work, abandoned]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #write(group: Pending[]): Promise<void> {
    if (group.length === 0) return;
    const messages = group.flatMap((p) => p.messages);
    const observer = this.#options.observer;
    observer?.grouped?.(messages.length);
    const ids = messages.map(() => randomUUID());
    const written: MessageDoc[] = [];
    let failure: unknown;
    try {
      let bus = await this.#bounded(group, () => this.#bus());
      let setUpAgain = false;
      // The newest offset this writer itself just committed: the next chunk can follow it unread.
      let head: Position | null = null;
      for (let lost = 0; written.length < messages.length; ) {
        if (lost >= this.#options.maxAttempts) {
          throw new TailcastError(
            ErrorCode.busUnavailable,
            "The bus is too busy to accept the message; retry.",
            { retryAfter: 1, reason: "offset_contention" },
          );
        }
        head ??= await this.#bounded(group, (ms) => newestPosition(bus, ms));
        if (head === null && !setUpAgain && this.#options.resetBus) {
          // The bus was dropped or emptied since it was set up: set it up again (a new epoch) and go on.
          this.#options.resetBus();
          bus = await this.#bounded(group, () => this.#bus());
          setUpAgain = true;
          observer?.retried?.("bus_reset");
          continue;
        }
        if (head === null) {
          throw new TailcastError(
            ErrorCode.busUnavailable,
            "The bus is empty or missing; it is being set up.",
            { retryAfter: 1, reason: "bus_missing" },
          );
        }
        const chunk = messages.slice(written.length, written.length + INSERT_CHUNK);
        const ts = new Date();
        const offsets = offsetsAfter(head.offset, chunk.length);
        const epoch: string = head.epoch;
        const docs: MessageDoc[] = chunk.map((m, i) => ({
          _id: ids[written.length + i] as string,
          offset: offsets[i] as number,
          epoch,
          channel: m.channel,
          event: m.event,
          data: m.data,
          ts,
          ...(m.ik === undefined ? {} : { ik: m.ik }),
        }));
        try {
          const { wtimeoutMS } = this.#options.writeConcern;
          await this.#bounded(group, (maxTimeMS) =>
            bus.insertMany(docs, {
              ordered: true,
              maxTimeMS,
              writeConcern: {
                ...this.#options.writeConcern,
                wtimeoutMS: Math.min(wtimeoutMS ?? maxTimeMS, maxTimeMS),
              },
            }),
          );
          written.push(...docs);
          observer?.appended?.(docs.length);
          head = { offset: (docs.at(-1) as MessageDoc).offset, epoch };
        } catch (err) {
          // Lost the race for an offset. An ordered insert stops at the first failure, so what came
          // before it is in the bus, acknowledged — unless the write concern failed too, which
          // lostRaceAt rules out (shared/bus/write-errors.ts).
          const refused = lostRaceAt(err);
          if (refused === null) throw err;
          written.push(...docs.slice(0, refused));
          if (refused > 0) observer?.appended?.(refused);
          observer?.conflicted?.();
          head = null;
          lost++;
          if (lost < this.#options.maxAttempts) observer?.retried?.("offset_conflict");
          if (lost > 1) await sleep(backoffDelay(lost, { initialMs: 2, maxMs: 50 }));
        }
      }
    } catch (err) {
      failure = err;
    }
    let at = 0;
    for (const p of group) {
      const end = at + p.messages.length;
      if (end <= written.length) {
        p.resolve(
          written
            .slice(at, end)
            .map((d) => ({ id: d._id, channel: d.channel, offset: d.offset, epoch: d.epoch, ts: d.ts })),
        );
      } else {
        p.reject(failure);
      }
      at = end;
    }
  }
}

/** How long past its server-side limit a call is still waited for, so that the server's own timeout answers first. */
const SERVER_LIMIT_GRACE_MS = 1000;

function timedOut(ms: number): TailcastError {
  return new TailcastError(
    ErrorCode.busUnavailable,
    `The message could not be written within ${ms} ms; retry.`,
    { retryAfter: 1, reason: "append_timeout" },
  );
}
