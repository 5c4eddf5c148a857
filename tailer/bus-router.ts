/**
 * Where a subscription finds its channel's bus (README "Tail on demand and affinity"): with one bus,
 * the node's tail and history for good (singleBus); with several, a hold on the channel's bus that
 * tailer/buses.ts opens on demand and closes once idle. Sessions (session.ts) only see these types.
 */
import type { BusHistory } from "../shared/bus/history.ts";
import type { Position } from "../shared/offsets.ts";
import type { TailView } from "./recovery.ts";

/** A hole in what the node delivered (tailer/live.ts), as the tail loop reports it. */
export interface TailGap {
  from: Position;
  to: Position;
  missed: number | null;
}

/** The node's tail as sessions see it (tailer/live.ts). */
export interface LiveView extends TailView {
  /** True once the node knows its position on the bus. */
  ready(): boolean;
}

/**
 * A subscription's hold on its channel's bus (tailer/buses.ts): the bus's tail and history, kept open
 * until released. A tail opened on demand for it may not know its position yet.
 */
export interface ChannelHold {
  readonly tail: LiveView;
  readonly history: BusHistory;
  /** True when the tail was opened on demand and may still be starting: wait for `started`, do not refuse yet. */
  readonly opening: boolean;
  /** Resolves once the tail knows its position, or the wait for it gave up (`tail.ready()` says which). */
  started(): Promise<void>;
  /** Idempotent. */
  release(): void;
}

/** Where each channel's bus is, when the node has several (tailer/buses.ts). */
export interface BusRouter {
  hold(channel: string): ChannelHold;
}

/** One bus, tailed for good: every channel's hold is the same tail and history, and holds nothing. */
export function singleBus(tail: LiveView, history: BusHistory): BusRouter {
  const hold: ChannelHold = {
    tail,
    history,
    opening: false,
    started: () => Promise.resolve(),
    release: () => {},
  };
  return { hold: () => hold };
}
