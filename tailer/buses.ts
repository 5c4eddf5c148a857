/**
 * The node's tails over the bus set (README "Scaling out"): one live view (tailer/live.ts: tail loop,
 * recovery window, lag, gaps) per bus, behind one facade that routes each channel to its bus
 * (shared/bus/partition.ts). Sessions take a hold on their channel's bus (tailer/session.ts BusRouter).
 *
 * One bus is tailed from the start and for good, exactly as a node always did. Several buses are tailed
 * on demand (tailer/tail-demand.ts): a bus's tail opens with the first subscribe to one of its channels
 * and closes TAILCAST_TAIL_IDLE_MS after the last one left, so a node reads only the buses its clients
 * need. A subscribe to a bus whose tail is starting waits for the tail's start position, then recovers
 * from the bus up to it (tailer/recovery.ts) and joins the live stream there.
 *
 * Readiness: one bus — a live cursor on it (as before); several — every bus answered its last check
 * (a live tail counts as one), tailed or not.
 */

import type { BusHandle, BusSet } from "../shared/bus/bus-set.ts";
import { newestPosition } from "../shared/bus/collection.ts";
import { type BusHistory, busHistory } from "../shared/bus/history.ts";
import { busIndexOf } from "../shared/bus/partition.ts";
import type { TailStats } from "../shared/bus/tail-loop.ts";
import { isTailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { Envelope } from "../shared/message.ts";
import { ignoreError, withTimeout } from "../shared/promises.ts";
import type { BusRouter, ChannelHold, TailGap } from "./bus-router.ts";
import type { Lag } from "./lag.ts";
import { type LiveOptions, type LiveStats, LiveTail } from "./live.ts";
import { newRecoveryStats, type RecoveryStats } from "./recovery.ts";
import { realTimers, TailDemand, type Timers } from "./tail-demand.ts";

export interface BusTailsOptions extends Omit<LiveOptions, "collection"> {
  /** Tail buses on demand (several buses) instead of every bus from the start (one bus). */
  onDemand: boolean;
  /** An on-demand tail closes this long after its last holder left. */
  idleMs: number;
  /** How long a subscribe waits for a tail opened for it to know its start position. */
  startWaitMs: number;
}

export interface BusTailsDeps {
  set: BusSet;
  /** Hands a message to the fan-out; returns how many connections it was sent to. */
  deliver(envelope: Envelope): number;
  /** Bus `bus`'s tail skipped messages: tell the subscribers of that bus's channels. */
  gap(gap: TailGap, bus: number): void;
  log: Logger;
  options: BusTailsOptions;
  timers?: Timers;
}

/** One bus as /stats and the metrics show it. */
export interface BusReport {
  index: number;
  collection: string;
  /** The node tails it now. */
  tailing: boolean;
  /** Documents the node's tails read from it (messages; replays to subscribers not counted). */
  read: number;
  /** Of those, the ones for a channel with a subscriber on this node. */
  delivered: number;
}

type TailCounters = Pick<TailStats, "reopens" | "gaps" | "missed" | "refilled">;

interface BusState {
  handle: BusHandle;
  history: BusHistory;
  live: LiveTail | null;
  read: number;
  delivered: number;
  /** Counters of the tails closed before, so the node's totals never go down. */
  retired: TailCounters;
  /** The bus answered its last reachability check (several buses: /readyz). */
  reachable: boolean;
}

const zeroCounters = (): TailCounters => ({ reopens: 0, gaps: 0, missed: 0, refilled: 0 });

export class BusTails implements BusRouter {
  /** Recovery counters of the whole node, shared by every bus's live view. */
  readonly stats: RecoveryStats = newRecoveryStats();
  readonly #deps: BusTailsDeps;
  readonly #buses: BusState[];
  readonly #demand: TailDemand | null;
  #probe: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(deps: BusTailsDeps) {
    this.#deps = deps;
    this.#buses = deps.set.buses.map((handle) => ({
      handle,
      history: busHistory(handle.collection),
      live: null,
      read: 0,
      delivered: 0,
      retired: zeroCounters(),
      reachable: false,
    }));
    this.#demand = deps.options.onDemand
      ? new TailDemand(
          this.#buses.length,
          deps.options.idleMs,
          { open: (bus) => this.#open(bus), close: (bus) => this.#close(bus) },
          deps.timers ?? realTimers,
        )
      : null;
  }

  get size(): number {
    return this.#buses.length;
  }

  /**
   * Tails every bus for good (not on demand), or checks every bus (on demand). Resolves once started;
   * rejects on a misconfiguration that waiting will not fix (a bus that is not capped).
   */
  async start(): Promise<void> {
    if (this.#demand === null) {
      await Promise.all(this.#buses.map((_, i) => this.#open(i).start()));
      return;
    }
    const interval = this.#deps.options.lagIntervalMs;
    this.#probe = setInterval(() => void this.#checkReachable().catch(ignoreError), interval);
    this.#probe.unref();
    await this.#checkReachable();
  }

  /** The bus of `channel`, held (its tail open) until released. */
  hold(channel: string): ChannelHold {
    const index = busIndexOf(channel, this.#buses.length);
    const state = this.#buses[index] as BusState;
    const release = this.#demand?.hold(index) ?? (() => {});
    const live = state.live;
    if (live === null) {
      // Stopping (or a bus not tailed at all): nothing to hold; the subscribe is refused as not ready.
      release();
      return { tail: idleTail, history: state.history, opening: false, started: async () => {}, release };
    }
    const { startWaitMs } = this.#deps.options;
    return {
      tail: live,
      history: state.history,
      opening: this.#demand !== null,
      started: () => withTimeout(live.positioned(), startWaitMs).catch(ignoreError),
      release,
    };
  }

  /** What /readyz answers for the buses (draining and stopping aside). */
  live(): boolean {
    if (this.#stopping) return false;
    if (this.#demand === null) return this.#buses.every((b) => b.live?.live() === true);
    // At least one bus: a dead deployment stalls only its channels, and every node shares it (README
    // "Tail on demand and affinity").
    return this.#buses.some((b) => b.live?.live() === true || b.reachable);
  }

  /** Every bus, for /stats `buses` and the per-bus metrics. */
  reports(): BusReport[] {
    return this.#buses.map((b) => ({
      index: b.handle.index,
      collection: b.handle.config.collection,
      tailing: b.live !== null,
      read: b.read,
      delivered: b.delivered,
    }));
  }

  /** The node's tail, recovery and lag: one bus's as they are; several buses' summed (lag: the worst). */
  snapshot(): LiveStats {
    const first = this.#buses[0] as BusState;
    if (this.#buses.length === 1 && this.#demand === null && first.live) return first.live.snapshot();
    const { options } = this.#deps;
    const open = this.#buses.flatMap((b) => (b.live ? [{ b, s: b.live.snapshot() }] : []));
    const tails = open.map(({ s }) => s.tail).filter((t): t is TailStats => t !== null);
    const counters = zeroCounters();
    for (const b of this.#buses) for (const k of COUNTERS) counters[k] += b.retired[k];
    for (const t of tails) for (const k of COUNTERS) counters[k] += t[k];
    let lag: Lag | null = null;
    for (const { s } of open) if (s.lag && (lag === null || s.lag.ms > lag.ms)) lag = s.lag;
    const sum = (f: (s: LiveStats["recovery"]) => number) => open.reduce((n, { s }) => n + f(s.recovery), 0);
    const always = this.#demand === null;
    return {
      // A node that tails for good and has not started yet has no tail, as before.
      tail:
        always && tails.length === 0
          ? null
          : {
              live: tails.length > 0 && tails.every((t) => t.live),
              // Positions are per bus: no one position is the node's.
              position: null,
              ...counters,
              lastError: tails.find((t) => t.lastError !== null)?.lastError ?? null,
              cursorId: null,
            },
      recovery: {
        ...this.stats,
        windowSize: sum((r) => r.windowSize),
        // The bounds are the node's, shared by its buses (#open).
        windowCapacity: options.recoveryWindow,
        windowBytes: sum((r) => r.windowBytes),
        windowCapacityBytes: options.recoveryWindowBytes,
      },
      lag,
    };
  }

  /** Bus 0's live view while it is tailed (the status page's position), else null. */
  first(): LiveTail | null {
    return this.#buses[0]?.live ?? null;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#demand?.stop();
    clearInterval(this.#probe);
    await Promise.all(this.#buses.map((b) => b.live?.stop()));
  }

  #open(index: number): LiveTail {
    const state = this.#buses[index] as BusState;
    const { handle } = state;
    const { options, log } = this.#deps;
    // The recovery window's bounds are the node's: shared by the buses, so several buses take no more memory.
    const n = this.#buses.length;
    const live: LiveTail = new LiveTail({
      db: () => handle.mongo.db(),
      bus: handle.collection,
      // A closed tail may still be finishing a batch: what it reads then is not this node's any more.
      deliver: (envelope) => {
        if (state.live !== live) return;
        state.read++;
        if (this.#deps.deliver(envelope) > 0) state.delivered++;
      },
      gap: (gap) => {
        if (state.live === live) this.#deps.gap(gap, index);
      },
      log: n === 1 ? log : log.with({ bus: index }),
      stats: this.stats,
      options: {
        collection: handle.config.collection,
        awaitMs: options.awaitMs,
        batchSize: options.batchSize,
        recoveryWindow: Math.ceil(options.recoveryWindow / n),
        recoveryWindowBytes: Math.ceil(options.recoveryWindowBytes / n),
        lagIntervalMs: options.lagIntervalMs,
      },
    });
    state.live = live;
    if (this.#demand !== null) {
      log.info("tailing bus", { bus: index, collection: handle.config.collection });
      live.start().catch((err: unknown) => log.error("bus tail failed", { bus: index, err }));
    }
    return live;
  }

  #close(index: number): void {
    const state = this.#buses[index] as BusState;
    const live = state.live;
    if (live === null) return;
    state.live = null;
    const tail = live.snapshot().tail;
    if (tail) for (const k of COUNTERS) state.retired[k] += tail[k];
    this.#deps.log.info("bus idle: tail closed", { bus: index, collection: state.handle.config.collection });
    live
      .stop()
      .catch((err: unknown) => this.#deps.log.warn("closing a bus tail failed", { bus: index, err }));
  }

  /** Several buses: every bus not tailed live is asked for its newest document (set up on first use). */
  async #checkReachable(): Promise<void> {
    const timeoutMs = Math.max(500, this.#deps.options.lagIntervalMs);
    await Promise.all(
      this.#buses.map(async (b) => {
        if (b.live?.live() === true) {
          b.reachable = true;
          return;
        }
        try {
          await withTimeout(
            (async () => newestPosition(await b.handle.collection(), timeoutMs))(),
            timeoutMs,
          );
          b.reachable = true;
        } catch (err) {
          if (isTailcastError(err)) throw err; // misconfiguration: waiting will not help
          b.reachable = false;
        }
      }),
    );
  }
}

const COUNTERS = ["reopens", "gaps", "missed", "refilled"] as const;

/** What a subscribe sees of a bus the node does not tail (it is stopping): never ready. */
const idleTail: ChannelHold["tail"] = {
  window: { covers: () => false, after: () => [] },
  stats: newRecoveryStats(),
  ready: () => false,
  position: () => {
    throw new Error("no tail on this bus");
  },
  advanced: () => Promise.resolve(),
};
