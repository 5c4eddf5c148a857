/**
 * In-memory stand-ins for what the idempotency store reads and writes (no I/O): the key collection, the
 * bus's documents carrying keys, and a manual clock whose `sleep` moves time on instead of waiting.
 * Only the operations shared/bus/idempotency.ts issues are implemented, with MongoDB's semantics for them.
 */
import { type Collection, MongoServerError } from "mongodb";
import type { BusDoc, MessageDoc } from "../../shared/bus/doc.ts";
import type { IdempotencyClock, KeyDoc } from "../../shared/bus/idempotency.ts";

type Filter = Record<string, unknown>;

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

function matches(doc: object, filter: Filter): boolean {
  return Object.entries(filter).every(([k, v]) => same((doc as Record<string, unknown>)[k], v));
}

export class FakeKeys {
  docs = new Map<string, KeyDoc>();
  /** Runs before each operation, with its name: to let another instance act in between. */
  before: (op: string) => Promise<void> | void = () => {};

  async insertOne(doc: KeyDoc): Promise<void> {
    await this.before("insertOne");
    if (this.docs.has(doc._id)) {
      throw new MongoServerError({ message: "E11000 duplicate key error", code: 11000 });
    }
    this.docs.set(doc._id, structuredClone(doc));
  }

  async findOne(filter: Filter): Promise<KeyDoc | null> {
    await this.before("findOne");
    const doc = [...this.docs.values()].find((d) => matches(d, filter));
    return doc ? structuredClone(doc) : null;
  }

  async updateOne(
    filter: Filter,
    update: { $set?: Partial<KeyDoc>; $unset?: Record<string, unknown> },
  ): Promise<{ matchedCount: number; modifiedCount: number }> {
    await this.before("updateOne");
    const doc = [...this.docs.values()].find((d) => matches(d, filter));
    if (!doc) return { matchedCount: 0, modifiedCount: 0 };
    Object.assign(doc, structuredClone(update.$set ?? {}));
    for (const k of Object.keys(update.$unset ?? {})) delete (doc as unknown as Filter)[k];
    return { matchedCount: 1, modifiedCount: 1 };
  }

  async deleteOne(filter: Filter): Promise<{ deletedCount: number }> {
    await this.before("deleteOne");
    const doc = [...this.docs.values()].find((d) => matches(d, filter));
    if (doc) this.docs.delete(doc._id);
    return { deletedCount: doc ? 1 : 0 };
  }

  asCollection(): Collection<KeyDoc> {
    return this as unknown as Collection<KeyDoc>;
  }
}

/** The bus as the store reads it: documents found by their key. */
export class FakeKeyedBus {
  docs: MessageDoc[] = [];

  add(doc: Partial<MessageDoc> & { ik: string }): MessageDoc {
    const full: MessageDoc = {
      _id: `m${this.docs.length + 1}`,
      offset: this.docs.length + 1,
      epoch: "e1",
      channel: "c",
      event: "message",
      data: "1",
      ts: new Date(0),
      ...doc,
    };
    this.docs.push(full);
    return full;
  }

  async findOne(filter: Filter): Promise<MessageDoc | null> {
    return this.docs.find((d) => matches(d, filter)) ?? null;
  }

  find(filter: Filter): { toArray(): Promise<MessageDoc[]> } {
    return { toArray: async () => this.docs.filter((d) => matches(d, filter)) };
  }

  asCollection(): Collection<BusDoc> {
    return this as unknown as Collection<BusDoc>;
  }
}

/** Time that only moves when told to, or when the store sleeps. */
export class ManualClock implements IdempotencyClock {
  t: number;
  sleeps = 0;

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.t = start;
  }

  async now(): Promise<number> {
    return this.t;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps++;
    this.t += ms;
  }

  advance(ms: number): void {
    this.t += ms;
  }
}
