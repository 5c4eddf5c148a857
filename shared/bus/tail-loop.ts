/**
 * The tail loop: one tailable awaitData cursor per node, re-opened from the last offset after every
 * way a tail can end, forever, until stopped (docs/mongodb.md "Tailable cursors"; README "Guarantees",
 * G2, G3).
 *
 * Raw find/getMore commands instead of the driver's cursor: a FerretDB tailable cursor whose first
 * batch is not full is closed at once (docs/ferretdb.md), so the first batch asks for one document — the one
 * at the last offset, re-read on purpose and dropped as a duplicate — while getMore asks for many;
 * the driver does not allow a tailable cursor's batch size to differ between the two.
 */
import type { Collection, Db, Document, Long } from "mongodb";
import { type BackoffOptions, backoffDelay, defaultBackoff, sleep } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { type Envelope, envelopeBytes } from "../message.ts";
import { classifyStep, type Position } from "../offsets.ts";
import { ignoreError } from "../promises.ts";
import { newestPosition } from "./collection.ts";
import { DeliveredIds, divergence, isRolledBack } from "./delivered-ids.ts";
import { type BusDoc, isSentinel, toEnvelope } from "./doc.ts";
import { isCursorDeath, isResumableTailError } from "./errors.ts";

export interface TailOptions {
  collection: string;
  /** How long a getMore waits for new documents. */
  awaitMs: number;
  batchSize: number;
  backoff?: BackoffOptions;
  /** Resume after this position; default: the live end of the bus at start (G3). */
  from?: Position;
}

export interface TailEvents {
  /**
   * Called once per message, in bus order, never twice for the same offset; `bytes` is about the size
   * of its JSON (shared/message.ts `envelopeBytes`).
   */
  onMessage(envelope: Envelope, bytes: number): void;
  /** Messages were evicted before this node read them (G5), or the bus was recreated. */
  onGap?(gap: { from: Position; to: Position; missed: number | null }): void;
  /** The tail knows where it starts: read from the live end of the bus (not called when `from` was given). */
  onPositioned?(position: Position): void;
}

export interface TailStats {
  live: boolean;
  position: Position | null;
  reopens: number;
  gaps: number;
  missed: number;
  /** Documents read back from the bus directly because the cursor skipped them (not reported as a gap). */
  refilled: number;
  lastError: string | null;
  /** The open cursor, for operators (and tests) that want to kill it from outside. */
  cursorId: string | null;
}

const COMMAND_OPTIONS = { promoteLongs: false } as const; // cursor ids are 64-bit: keep them exact

/** `_id`s of the last delivered documents kept to find where a rollback started (docs/offsets.md "Rollback"). */
const REMEMBERED_IDS = 10_000;

export class BusTail {
  readonly #db: Db;
  readonly #options: TailOptions;
  readonly #events: TailEvents;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #position: Position | null;
  #cursorId: Long | number = 0;
  readonly #delivered = new DeliveredIds(REMEMBERED_IDS);
  #running: Promise<void> | undefined;
  readonly #stats: Omit<TailStats, "position" | "cursorId"> = {
    live: false,
    reopens: 0,
    gaps: 0,
    missed: 0,
    refilled: 0,
    lastError: null,
  };

  constructor(db: Db, options: TailOptions, events: TailEvents, log: Logger) {
    this.#db = db;
    this.#options = options;
    this.#events = events;
    this.#log = log;
    this.#position = options.from ?? null;
  }

  get stats(): TailStats {
    return {
      ...this.#stats,
      position: this.#position,
      cursorId: isZero(this.#cursorId) ? null : this.#cursorId.toString(),
    };
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    await this.#killCursor();
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#abort.signal.aborted) {
      try {
        const progressed = await this.#tailOnce();
        failures = progressed ? 0 : failures + 1;
      } catch (err) {
        this.#stats.live = false;
        if (this.#abort.signal.aborted) break;
        failures++;
        this.#stats.lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        const fields = { err, position: this.#position, attempt: failures };
        if (isResumableTailError(err))
          this.#log.info(isCursorDeath(err) ? "cursor ended" : "bus unreachable", fields);
        else this.#log.error("tail failed", fields);
      }
      this.#stats.reopens++;
      if (failures > 0)
        await sleep(backoffDelay(failures - 1, this.#options.backoff ?? defaultBackoff), this.#abort.signal);
    }
    this.#stats.live = false;
  }

  /** Opens a cursor and reads until it ends. Returns whether any document was read. */
  async #tailOnce(): Promise<boolean> {
    const { collection } = this.#options;
    const bus = this.#db.collection<BusDoc>(collection);
    if (this.#position === null) {
      const newest = await newestPosition(bus);
      if (newest === null) throw new Error(`bus ${collection} is empty or missing`);
      this.#position = { offset: newest.offset, epoch: newest.epoch };
      this.#log.info("tailing from the live end", { position: this.#position });
      this.#events.onPositioned?.(this.#position);
    }
    const signal = this.#abort.signal;
    const found = await this.#db.command(
      {
        find: collection,
        filter: { offset: { $gte: this.#position.offset } },
        tailable: true,
        awaitData: true,
        batchSize: 1,
      },
      { ...COMMAND_OPTIONS, signal },
    );
    this.#cursorId = found.cursor.id as Long;
    const first = found.cursor.firstBatch as BusDoc[];
    if (first.length === 0) {
      await this.#checkEpoch(bus);
      return false;
    }
    this.#stats.live = true;
    await this.#consume(bus, first);
    while (!isZero(this.#cursorId) && !signal.aborted) {
      const more: Document = await this.#db.command(
        {
          getMore: this.#cursorId,
          collection,
          batchSize: this.#options.batchSize,
          maxTimeMS: this.#options.awaitMs,
        },
        { ...COMMAND_OPTIONS, signal },
      );
      this.#cursorId = more.cursor.id as Long;
      const batch = more.cursor.nextBatch as BusDoc[];
      if (batch.length > 0) await this.#consume(bus, batch);
      else await this.#catchUp(bus);
    }
    // The server closed the cursor without an error (for await would just end here): re-open.
    return true;
  }

  /**
   * Delivers a batch in order. A jump in offsets is checked against the bus before it is called a gap:
   * an unpatched FerretDB v1.24's awaitData can drop a batch its cursor already moved past (a getMore
   * deadline hit while re-querying returns an empty batch), so the cursor skips documents that are still
   * stored (the project's build fixes that, docs/offsets.md, but TAILCAST_FERRETDB_BIN may run any binary).
   * Reading the missing range directly finds them; only what is really gone is reported (G2, G5).
   */
  async #consume(bus: Collection<BusDoc>, docs: BusDoc[], filling = false): Promise<void> {
    for (const doc of docs) {
      const position = this.#position as Position;
      const step = classifyStep(position, doc);
      if (step.kind === "duplicate") {
        // The re-read of the last delivered offset proves the bus still holds what was delivered.
        if (doc.offset === position.offset && isRolledBack(this.#delivered, doc)) {
          await this.#rolledBack(bus, position);
        }
        continue;
      }
      if (step.kind === "gap" && !filling) {
        const skipped = await bus
          .find({ offset: { $gt: position.offset, $lt: doc.offset } }, { sort: { offset: 1 } })
          .toArray();
        this.#stats.refilled += skipped.length;
        await this.#consume(bus, skipped, true);
      }
      const now = this.#position as Position;
      const real = classifyStep(now, doc);
      if (real.kind === "duplicate") continue;
      if (real.kind !== "next") {
        const missed = real.kind === "gap" ? real.missed : null;
        this.#stats.gaps++;
        this.#stats.missed += missed ?? 0;
        const to = { offset: doc.offset, epoch: doc.epoch };
        this.#log.warn(
          real.kind === "gap" ? "fell behind the bus: messages lost to eviction" : "bus epoch changed",
          {
            from: now,
            to,
            missed,
          },
        );
        this.#events.onGap?.({ from: now, to, missed });
      }
      this.#position = { offset: doc.offset, epoch: doc.epoch };
      this.#delivered.record(this.#position, doc._id);
      if (!isSentinel(doc)) {
        const envelope = toEnvelope(doc);
        this.#events.onMessage(envelope, envelopeBytes(envelope, doc.data.length));
      }
    }
  }

  /**
   * The document at our own position is not the one delivered there: a replica-set rollback removed
   * what was delivered and the new primary gave those offsets to other, acknowledged messages
   * (docs/offsets.md "Rollback"). Handled like an epoch change: subscribers are told (onGap, from the
   * last delivered position to where the bus diverged) and the tail delivers the bus's documents from
   * there, so the acknowledged messages are not dropped as "already delivered".
   */
  async #rolledBack(bus: Collection<BusDoc>, position: Position): Promise<void> {
    const from = this.#delivered.oldest() ?? position.offset;
    const docs = await bus
      .find({ offset: { $gte: from, $lte: position.offset } }, { sort: { offset: 1 } })
      .toArray();
    const at = divergence(this.#delivered, docs, position);
    const to = { offset: at, epoch: position.epoch };
    this.#stats.gaps++;
    this.#log.warn("bus rolled back: delivered messages were replaced", { from: position, to });
    this.#events.onGap?.({ from: position, to, missed: null });
    this.#delivered.forgetFrom(at);
    this.#position = { offset: at - 1, epoch: position.epoch };
    await this.#consume(
      bus,
      docs.filter((d) => d.offset >= at),
      true,
    );
  }

  /**
   * An empty getMore should mean "nothing new". Unpatched FerretDB's awaitData can lose a batch its
   * cursor moved past (see #consume), and with no later message to reveal the jump the last ones would
   * sit undelivered through a quiet period. So an empty batch is checked against the newest offset, and
   * anything between is read directly; what the cursor returns later is dropped as a duplicate.
   */
  async #catchUp(bus: Collection<BusDoc>): Promise<void> {
    const position = this.#position;
    const newest = await newestPosition(bus);
    if (!position || !newest || newest.epoch !== position.epoch || newest.offset <= position.offset) return;
    const missing = await bus
      .find({ offset: { $gt: position.offset, $lte: newest.offset } }, { sort: { offset: 1 } })
      .toArray();
    this.#stats.refilled += missing.length;
    await this.#consume(bus, missing);
  }

  /** Nothing at or after our offset: the bus was recreated (new epoch, offsets from 0 again). */
  async #checkEpoch(bus: Collection<BusDoc>): Promise<void> {
    const newest = await newestPosition(bus);
    if (newest && this.#position && newest.epoch !== this.#position.epoch) {
      // Read the new incarnation from its start; #consume reports the epoch change.
      this.#position = { offset: -1, epoch: this.#position.epoch };
    }
  }

  async #killCursor(): Promise<void> {
    if (isZero(this.#cursorId)) return;
    await this.#db
      .command({ killCursors: this.#options.collection, cursors: [this.#cursorId] })
      .catch(ignoreError); // best effort: the server reaps an abandoned cursor anyway
    this.#cursorId = 0;
  }
}

function isZero(id: Long | number): boolean {
  return typeof id === "number" ? id === 0 : id.isZero();
}
