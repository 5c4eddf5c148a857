/**
 * The slow-consumer scenario's blocks summed into its two conditions (bench/scenarios/slow-consumer.ts).
 * Pure, so test/unit/bench-stats.test.ts can pin it down.
 */
import type { SlowConsumerPhase } from "./results.ts";
import { addDelivery, type Delivery, emptyDelivery, p99Ratio, peakAndMean, summarize } from "./stats.ts";

/** What one block measured. */
export interface BlockMeasure {
  slowClient: boolean;
  /** Steady messages' latency samples at every normal subscriber, and their exact max. */
  latencies: number[];
  maxLatency: number;
  steady: Delivery;
  bulk: Delivery;
  bulkBytesPerSec: number;
  /** The tailer's RSS samples. */
  rss: number[];
  largestPendingBytes: number;
  cuts: { ws: number; socketIo: number };
}

/** The blocks of one condition as one phase; `null` when there were none. */
export function phaseOf(
  name: SlowConsumerPhase["name"],
  blocks: readonly BlockMeasure[],
): SlowConsumerPhase | null {
  const mine = blocks.filter((b) => b.slowClient === (name === "slow client"));
  if (mine.length === 0) return null;
  let steady = emptyDelivery();
  let bulk = emptyDelivery();
  const latencies: number[] = [];
  const rss: number[] = [];
  let max = Number.NaN;
  let largest = 0;
  let bytesPerSec = 0;
  const cuts = { ws: 0, socketIo: 0 };
  for (const b of mine) {
    steady = addDelivery(steady, b.steady);
    bulk = addDelivery(bulk, b.bulk);
    for (const v of b.latencies) latencies.push(v);
    for (const v of b.rss) rss.push(v);
    if (!Number.isNaN(b.maxLatency)) max = Number.isNaN(max) ? b.maxLatency : Math.max(max, b.maxLatency);
    largest = Math.max(largest, b.largestPendingBytes);
    bytesPerSec += b.bulkBytesPerSec / mine.length;
    cuts.ws += b.cuts.ws;
    cuts.socketIo += b.cuts.socketIo;
  }
  return {
    name,
    blocks: mine.length,
    latency: summarize(latencies, Number.isNaN(max) ? undefined : max),
    blockP99: mine.map((b) => summarize(b.latencies).p99),
    steady,
    bulk,
    bulkBytesPerSec: bytesPerSec,
    rss: peakAndMean(rss),
    largestPendingBytes: largest,
    cuts,
  };
}

/** p99 of every slow-client block's samples over p99 of every baseline block's. */
export function slowOverBaseline(blocks: readonly BlockMeasure[]): number {
  const of = (slow: boolean) => blocks.filter((b) => b.slowClient === slow).flatMap((b) => b.latencies);
  return p99Ratio(of(true), of(false));
}
