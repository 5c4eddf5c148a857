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
 * Readiness: one bus — a live cursor on it (as before); several — at least one bus answered its last
 * check (a live tail counts as one), tailed or not. A subscribe to a bus that did not answer its last
 * check, and has no live cursor here, is refused at once (`bus_unavailable`: retry) and holds nothing.
 */

import type { BusHandle, BusSet } from "../shared/bus/bus-set.ts";
import { type BusHistory, busHistory } from "../shared/bus/history.ts";
import { busIndexOf } from "../shared/bus/partition.ts";
import type { Logger } from "../shared/log.ts";
import type { Envelope } from "../shared/message.ts";
import { ignoreError, withTimeout } from "../shared/promises.ts";
import { busAnswers } from "./bus-probe.ts";
import { PublishRate } from "./bus-rate.ts";
import type { BusReport, BusStats } from "./bus-report.ts";
import type { BusRouter, ChannelHold, TailGap } from "./bus-router.ts";
import { addCounters, combineSnapshots, type TailCounters, zeroCounters } from "./bus-snapshot.ts";
import { type LiveOptions, type LiveStats, LiveTail } from "./live.ts";
import { newRecoveryStats, type RecoveryStats } from "./recovery.ts";
import { realTimers, TailDemand, type Timers } from "./tail-demand.ts";

export type { BusReport, BusStats } from "./bus-report.ts";

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

interface BusState {
  handle: BusHandle;
  history: BusHistory;
  live: LiveTail | null;
  read: number;
  delivered: number;
  /** Counters of the tails closed before, so the node's totals never go down. */
  retired: TailCounters;
  /** The bus answered its last reachability check (several buses: /readyz); null before the first. */
  reachable: boolean | null;
  /** Its publish rate since its tail opened; null while not tailed. */
  rate: PublishRate | null;
}

export class BusTails implements BusRouter {
  /** Recovery counters of the whole node, shared by every bus's live view. */
  readonly stats: RecoveryStats = newRecoveryStats();
  readonly #deps: BusTailsDeps;
  readonly #buses: BusState[];
  readonly #demand: TailDemand | null;
  #probe: NodeJS.Timeout | undefined;
  #checking: Promise<unknown> | null = null;
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
      reachable: null,
      rate: null,
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
    if (this.#demand !== null && state.reachable === false && state.live?.live() !== true) {
      // Its deployment did not answer: a subscribe would wait for a tail that cannot start, or join one
      // that delivers nothing, while its client believes it is served. Refused, it retries (README "Tail
      // on demand and affinity"); holding nothing, it opens no tail.
      return notTailed(state.history, () => {});
    }
    const release = this.#demand?.hold(index) ?? (() => {});
    const live = state.live;
    if (live === null) {
      // Stopping (or a bus not tailed at all): nothing to hold; the subscribe is refused as not ready.
      release();
      return notTailed(state.history, release);
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
    return this.#buses.map(report);
  }

  /** Every bus with whether it answers and its publish rate, for /stats `buses` and the status page. */
  busStats(now = Date.now()): BusStats[] {
    return this.#buses.map((b) => {
      const live = b.live?.live() === true;
      return {
        ...report(b),
        live,
        answering: live || this.#demand === null ? live : b.reachable,
        publishRate: b.rate?.rate(now) ?? null,
      };
    });
  }

  /** The node's tail, recovery and lag: one bus's as they are; several buses' summed (lag: the worst). */
  snapshot(): LiveStats {
    const first = this.#buses[0] as BusState;
    if (this.#buses.length === 1 && this.#demand === null && first.live) return first.live.snapshot();
    const { options } = this.#deps;
    return combineSnapshots({
      open: this.#buses.flatMap((b) => (b.live ? [b.live.snapshot()] : [])),
      retired: this.#buses.map((b) => b.retired),
      always: this.#demand === null,
      stats: this.stats,
      // The bounds are the node's, shared by its buses (#open).
      windowCapacity: options.recoveryWindow,
      windowCapacityBytes: options.recoveryWindowBytes,
    });
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
        state.rate?.record(Date.parse(envelope.ts));
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
    state.rate = new PublishRate(Date.now());
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
    state.rate = null;
    const tail = live.snapshot().tail;
    if (tail) addCounters(state.retired, tail);
    this.#deps.log.info("bus idle: tail closed", { bus: index, collection: state.handle.config.collection });
    live
      .stop()
      .catch((err: unknown) => this.#deps.log.warn("closing a bus tail failed", { bus: index, err }));
  }

  /**
   * Several buses: every bus not tailed live is asked for its newest document (set up on first use). One
   * check at a time (joined while running): none piles up on a dead bus, nor overwrites a newer answer.
   */
  #checkReachable(): Promise<unknown> {
    const timeoutMs = Math.max(500, this.#deps.options.lagIntervalMs);
    this.#checking ??= Promise.all(
      this.#buses.map(async (b) => {
        b.reachable = b.live?.live() === true || (await busAnswers(b.handle.collection, timeoutMs));
      }),
    ).finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }
}

function report(b: BusState): BusReport {
  return {
    index: b.handle.index,
    collection: b.handle.config.collection,
    tailing: b.live !== null,
    read: b.read,
    delivered: b.delivered,
  };
}

/** The hold of a bus the node does not tail (stopping, or its deployment not answering): refused as not ready. */
const notTailed = (history: BusHistory, release: () => void): ChannelHold => ({
  tail: idleTail,
  history,
  opening: false,
  started: async () => {},
  release,
});

/** What a subscribe sees of a bus the node does not tail: never ready. */
const idleTail: ChannelHold["tail"] = {
  window: { covers: () => false, after: () => [] },
  stats: newRecoveryStats(),
  ready: () => false,
  position: () => {
    throw new Error("no tail on this bus");
  },
  advanced: () => Promise.resolve(),
};
