/**
 * Idempotent publish (G7): the same key from the same publisher within the window stores the message
 * once and returns the original receipt — also when retries race each other across processes.
 *
 * One record per scoped key in `<bus>_idempotency`, claimed by inserting it (`_id` is unique, so one
 * claimant wins). The winner appends and records the receipt; the others wait for it. A claim whose
 * owner vanished (crash, lost connection) is taken over after `pendingTimeoutMs`, but only after
 * looking in the bus for a message carrying the key (`ik`) with the same content (fingerprint), so an
 * append that did land is not repeated and an older message under a reused key is not mistaken for it.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Collection, Db } from "mongodb";
import { sleep } from "../backoff.ts";
import { ErrorCode, TailcastError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { OutgoingMessage } from "../message.ts";
import { type Receipt, receiptOf } from "./append.ts";
import type { BusDoc, MessageDoc } from "./doc.ts";
import { isDuplicateKey, isIndexOptionsConflict, isNotImplemented } from "./errors.ts";

export interface KeyDoc {
  _id: string;
  fp: string;
  state: "pending" | "done";
  owner: string;
  at: Date;
  result?: Receipt;
  /** The channel of the claimed message: where to look for it in a partitioned bus set (`#landed`). */
  ch?: string;
}

/**
 * The store's sense of time, injectable so its timing paths are testable without waiting. `now` is the
 * time claims are stamped and aged with; `sleep` is the pause between polls of a concurrent owner.
 */
export interface IdempotencyClock {
  now(): Promise<number>;
  sleep(ms: number): Promise<void>;
}

export const localClock: IdempotencyClock = { now: async () => Date.now(), sleep };

export interface IdempotencyOptions {
  windowSec: number;
  /**
   * Longer than any append can take (the writer's timeout plus server selection and a margin), so an
   * owner that is still alive has finished — landed or failed — before its claim is looked at.
   */
  pendingTimeoutMs: number;
  /** How long a retry waits for a concurrent owner before answering 409. */
  waitMs: number;
  clock?: IdempotencyClock;
}

export type Claim =
  | { kind: "owner"; key: string; token: string; fp: string; channel?: string }
  | { kind: "done"; receipt: Receipt };

export function scopedKey(publisher: string, key: string): string {
  return `${publisher}\u0000${key}`;
}

/** Same key, different message: the fingerprint tells them apart. */
export function fingerprint(m: Pick<OutgoingMessage, "channel" | "event" | "data">): string {
  return createHash("sha256").update(`${m.channel}\u0000${m.event}\u0000${m.data}`).digest("base64url");
}

const TTL_INDEX = "at_ttl";

/**
 * The key collection with a TTL index that deletes records `ttlSec` after their claim. The claim logic
 * never relies on the deletion (expired records are ignored when read and overwritten on reuse), so a
 * server without TTL indexes (FerretDB: docs/ferretdb.md) only keeps expired records longer. When the
 * configured TTL changed since the index was made, the index is changed in place (collMod), or, where
 * that is refused, dropped and made again: otherwise every start would fail on the options conflict.
 */
export async function ensureIdempotencyStore(
  db: Db,
  busName: string,
  ttlSec: number,
  log?: Logger,
): Promise<Collection<KeyDoc>> {
  const name = `${busName}_idempotency`;
  const keys = db.collection<KeyDoc>(name);
  const create = () => keys.createIndex({ at: 1 }, { name: TTL_INDEX, expireAfterSeconds: ttlSec });
  try {
    await create();
  } catch (err) {
    if (isNotImplemented(err)) {
      log?.warn("TTL indexes not supported by this server; expired idempotency keys are not deleted");
    } else if (isIndexOptionsConflict(err)) {
      try {
        await db.command({ collMod: name, index: { name: TTL_INDEX, expireAfterSeconds: ttlSec } });
      } catch (modErr) {
        log?.warn("collMod refused; re-creating the idempotency TTL index", { error: String(modErr) });
        await keys.dropIndex(TTL_INDEX);
        await create();
      }
      log?.info("idempotency TTL changed", { ttlSec });
    } else {
      throw err;
    }
  }
  return keys;
}

/**
 * The bus a channel's messages are in (README "Partitioned buses"); `undefined` for a record written
 * before claims named their channel, whose message is in bus 0 (the only bus there was).
 */
export type BusOfChannel = (channel: string | undefined) => Promise<Collection<BusDoc>>;

export class IdempotencyStore {
  readonly #keys: Collection<KeyDoc>;
  readonly #bus: BusOfChannel;
  readonly #options: IdempotencyOptions;
  readonly #clock: IdempotencyClock;

  /** `bus`: the one bus, or, with partitioned buses, the bus of a channel. */
  constructor(keys: Collection<KeyDoc>, bus: Collection<BusDoc> | BusOfChannel, options: IdempotencyOptions) {
    this.#keys = keys;
    this.#bus = typeof bus === "function" ? bus : async () => bus;
    this.#options = options;
    this.#clock = options.clock ?? localClock;
  }

  /** `channel`: the message's, recorded so an interrupted append is looked for in its bus. */
  async claim(key: string, fp: string, channel?: string): Promise<Claim> {
    const token = randomUUID();
    const ch = channel === undefined ? {} : { ch: channel };
    const owner = (): Claim => ({
      kind: "owner",
      key,
      token,
      fp,
      ...(channel === undefined ? {} : { channel }),
    });
    const deadline = (await this.#clock.now()) + this.#options.waitMs;
    for (;;) {
      const now = new Date(await this.#clock.now());
      try {
        await this.#keys.insertOne({ _id: key, fp, state: "pending", owner: token, at: now, ...ch });
        return owner();
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const doc = await this.#keys.findOne({ _id: key });
      if (doc === null) continue; // released meanwhile
      const age = now.getTime() - doc.at.getTime();
      const done = doc.state === "done" && doc.result !== undefined;
      if (!done && age > this.#options.pendingTimeoutMs) {
        // The owner's append is over by now, landed or not: appends are bounded well below
        // pendingTimeoutMs (BusWriter's timeout), and ages are read on the server's clock.
        // Same fingerprint, same channel; another message under the key is in its own channel's bus.
        const landed = await this.#landed(key, doc.fp, doc.ch ?? (doc.fp === fp ? channel : undefined));
        if (landed) {
          await this.#record(doc, landed);
          if (doc.fp === fp) return { kind: "done", receipt: landed };
        } else if (await this.#takeOver(doc, token, fp, channel)) return owner();
        continue; // another message under the key: the next round refuses it (422) or, expired, takes it
      }
      // Only a recorded key expires: a pending one past the window may still be appending.
      if (done && age > this.#options.windowSec * 1000) {
        if (await this.#takeOver(doc, token, fp, channel)) return owner();
        continue;
      }
      if (doc.fp !== fp) {
        throw new TailcastError(
          ErrorCode.idempotencyKeyReused,
          "This Idempotency-Key was already used for a different message.",
        );
      }
      if (done) return { kind: "done", receipt: doc.result as Receipt };
      if (now.getTime() > deadline) {
        throw new TailcastError(
          ErrorCode.idempotencyInProgress,
          "A request with this Idempotency-Key is still in progress; retry.",
          { retryAfter: 1 },
        );
      }
      await this.#clock.sleep(20);
    }
  }

  /** Records the receipt; false when the claim is no longer this owner's (taken over after a timeout). */
  async complete(claim: Extract<Claim, { kind: "owner" }>, receipt: Receipt): Promise<boolean> {
    const res = await this.#keys.updateOne(
      { _id: claim.key, owner: claim.token },
      { $set: { state: "done", result: receipt } },
    );
    return res.matchedCount === 1;
  }

  /**
   * After a failed append: if the message landed anyway (the write succeeded but its reply was lost),
   * record it; otherwise free the key so a retry can publish. If even that fails, the claim stays
   * pending and the next retry resolves it after `pendingTimeoutMs`.
   */
  async abandon(claim: Extract<Claim, { kind: "owner" }>): Promise<void> {
    try {
      const landed = await this.#landed(claim.key, claim.fp, claim.channel);
      if (landed) await this.complete(claim, landed);
      else await this.#keys.deleteOne({ _id: claim.key, owner: claim.token });
    } catch {
      // the database is unreachable: leave the claim to expire into a takeover
    }
  }

  /**
   * The message this claim appended, if it is in the bus: the newest document carrying the key whose
   * content matches the claim's fingerprint. An older message under the same key (published in an
   * earlier window, since reused for other content) is not this claim's.
   */
  async #landed(key: string, fp: string, channel: string | undefined): Promise<Receipt | null> {
    const bus = await this.#bus(channel);
    const docs = (await bus.find({ ik: key }).toArray()) as MessageDoc[];
    const mine = docs.filter((d) => fingerprint(d) === fp).sort((a, b) => b.offset - a.offset)[0];
    return mine ? receiptOf(mine) : null;
  }

  /** Records what a vanished owner did append, unless someone else changed the claim meanwhile. */
  async #record(doc: KeyDoc, receipt: Receipt): Promise<void> {
    await this.#keys.updateOne(
      { _id: doc._id, owner: doc.owner, at: doc.at },
      { $set: { state: "done", result: receipt } },
    );
  }

  async #takeOver(doc: KeyDoc, token: string, fp: string, channel: string | undefined): Promise<boolean> {
    const at = new Date(await this.#clock.now());
    const res = await this.#keys.updateOne(
      { _id: doc._id, owner: doc.owner, at: doc.at },
      channel === undefined
        ? { $set: { fp, state: "pending", owner: token, at }, $unset: { result: "", ch: "" } }
        : { $set: { fp, state: "pending", owner: token, at, ch: channel }, $unset: { result: "" } },
    );
    return res.modifiedCount === 1;
  }
}
