/**
 * The node's live view of the bus, with one owner: the tail loop (set up and started here, retried
 * while the bus is unreachable), the recent-messages window it fills, the "advanced" signal a waiting
 * recovery listens to, recovery counters and the measured lag. Recovery gets it whole (TailView);
 * /stats and /readyz read it; node.ts only wires it.
 */
import type { Collection, Db } from "mongodb";
import { backoffDelay, defaultBackoff, sleep } from "../shared/backoff.ts";
import { newestPosition } from "../shared/bus/collection.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import { BusTail, type TailStats } from "../shared/bus/tail-loop.ts";
import { isTailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";
import { ignoreError } from "../shared/promises.ts";
import { computeLag, type Lag } from "./lag.ts";
import { newRecoveryStats, notReady, type RecoveryStats, type TailView } from "./recovery.ts";
import { RecentWindow } from "./window.ts";

/** How long a waiting recovery sleeps at most before it re-checks the tail's position. */
const RECHECK_MS = 1000;

export interface LiveOptions {
  collection: string;
  awaitMs: number;
  batchSize: number;
  /** Recent messages kept for recovery (G4). */
  recoveryWindow: number;
  /** Most bytes (of the messages' JSON) the recovery window keeps. */
  recoveryWindowBytes: number;
  lagIntervalMs: number;
}

export interface LiveDeps {
  db: () => Promise<Db>;
  /** The bus, set up on first use (shared with the rest of the node). */
  bus: () => Promise<Collection<BusDoc>>;
  /** Called for every message, in bus order: the fan-out to this node's subscribers. */
  deliver: (envelope: Envelope) => void;
  /** Called when the tail skipped messages, before the first message after the hole is delivered. */
  gap: (gap: { from: Position; to: Position; missed: number | null }) => void;
  log: Logger;
  options: LiveOptions;
  /** Recovery counters to add to; default: the view's own. Several views of one node share them (tailer/buses.ts). */
  stats?: RecoveryStats;
}

export interface LiveStats {
  tail: TailStats | null;
  recovery: RecoveryStats & {
    windowSize: number;
    windowCapacity: number;
    windowBytes: number;
    windowCapacityBytes: number;
  };
  lag: Lag | null;
}

export class LiveTail implements TailView {
  readonly window: RecentWindow;
  readonly stats: RecoveryStats;
  readonly #deps: LiveDeps;
  readonly #stopping = new AbortController();
  readonly #waiters = new Set<() => void>();
  #tail: BusTail | null = null;
  #lag: Lag | null = null;
  #lastDeliveredTs: Date | null = null;
  #lagProbe: NodeJS.Timeout | undefined;
  #started: Promise<void> | undefined;
  readonly #positioned: Promise<void>;
  #onPositioned: () => void = () => {};

  constructor(deps: LiveDeps) {
    this.#deps = deps;
    this.stats = deps.stats ?? newRecoveryStats();
    this.#positioned = new Promise((resolve) => {
      this.#onPositioned = resolve;
    });
    this.window = new RecentWindow(deps.options.recoveryWindow, deps.options.recoveryWindowBytes);
  }

  /**
   * Sets the bus up — retrying while it is unreachable — then tails it for good. Resolves once tailing
   * has started; rejects on a misconfiguration that waiting will not fix (e.g. a non-capped collection).
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  /** True while the node has a live cursor on the bus (/readyz). */
  live(): boolean {
    return this.#tail?.stats.live === true;
  }

  /** Subscribers can join once the node knows its position, even while its cursor re-opens. */
  ready(): boolean {
    return this.#tail?.stats.position != null;
  }

  /** Resolves once the tail knows its position (ready() holds from then on), or it is stopped. */
  positioned(): Promise<void> {
    return this.#positioned;
  }

  position(): Position {
    const position = this.#tail?.stats.position;
    if (position == null) throw notReady();
    return position;
  }

  advanced(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, RECHECK_MS);
      this.#waiters.add(done);
      if (this.#stopping.signal.aborted) done();
    });
  }

  snapshot(): LiveStats {
    return {
      tail: this.#tail?.stats ?? null,
      recovery: {
        ...this.stats,
        windowSize: this.window.size,
        windowCapacity: this.#deps.options.recoveryWindow,
        windowBytes: this.window.bytes,
        windowCapacityBytes: this.#deps.options.recoveryWindowBytes,
      },
      lag: this.#lag,
    };
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#onPositioned();
    clearInterval(this.#lagProbe);
    this.#wake();
    await this.#started?.catch(ignoreError); // a failed start was reported by whoever awaited it
    await this.#tail?.stop();
  }

  async #start(): Promise<void> {
    const { bus, db, log, options } = this.#deps;
    for (let attempt = 0; !this.#stopping.signal.aborted; attempt++) {
      try {
        await bus();
        this.#tail = new BusTail(
          await db(),
          { collection: options.collection, awaitMs: options.awaitMs, batchSize: options.batchSize },
          {
            onMessage: (envelope, bytes) => this.#onMessage(envelope, bytes),
            // What the window holds must be contiguous: restart it after a hole. Subscribers are told
            // before the tail delivers what follows the hole.
            onGap: (gap) => {
              this.window.reset({ offset: gap.to.offset - 1, epoch: gap.to.epoch });
              this.#deps.gap(gap);
            },
            onPositioned: () => this.#onPositioned(),
          },
          log.child("tail"),
        );
        this.#tail.start();
        this.#lagProbe = setInterval(() => void this.#probeLag(), options.lagIntervalMs);
        this.#lagProbe.unref();
        return;
      } catch (err) {
        if (isTailcastError(err)) throw err; // misconfiguration: waiting will not help
        log.warn("bus not reachable yet", { err, attempt });
        await sleep(backoffDelay(attempt, defaultBackoff), this.#stopping.signal);
      }
    }
  }

  #onMessage(envelope: Envelope, bytes: number): void {
    this.window.push(envelope, bytes);
    this.#lastDeliveredTs = new Date(envelope.ts);
    this.#deps.deliver(envelope);
    this.#wake();
  }

  #wake(): void {
    for (const done of [...this.#waiters]) done();
  }

  async #probeLag(): Promise<void> {
    try {
      const newest = await newestPosition(await this.#deps.bus());
      const position = this.#tail?.stats.position ?? null;
      if (newest) this.#lag = computeLag(newest, position, this.#lastDeliveredTs, new Date());
    } catch (err) {
      ignoreError(err); // an unreachable bus shows as a stale `lag.checkedAt` and in /readyz
    }
  }
}
