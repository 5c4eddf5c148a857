/**
 * A small rolling view of what the node delivered, for the fleet status page: the delivery latency
 * (the bus `ts` of a message to the moment the node handed it to its transports) and the publish
 * rate (messages per second by their bus `ts`, bus-rate.ts), over the last minute. It keeps the
 * latencies of the last `capacity` messages in a ring, so its memory is fixed whatever the rate; at
 * rates above capacity per window the latencies cover the most recent `capacity` messages. Pure: times
 * are passed in.
 */
import type { LatencySummary } from "../shared/fleet/nodes.ts";
import { PublishRate } from "./bus-rate.ts";

export const DEFAULT_WINDOW_MS = 60_000;
const DEFAULT_CAPACITY = 4096;

export interface DeliverySummary {
  /** Messages per second by bus `ts` over the window (0 when nothing was published in it). */
  publishRate: number;
  delivery: LatencySummary;
}

export class DeliveryStats {
  readonly #busTs: Float64Array;
  readonly #emittedAt: Float64Array;
  readonly #rate: PublishRate;
  #next = 0;
  #size = 0;

  /** `startedAt`: when the node began delivering (a younger node's rate is over its own life). */
  constructor(startedAt: number, capacity = DEFAULT_CAPACITY) {
    this.#busTs = new Float64Array(capacity);
    this.#emittedAt = new Float64Array(capacity);
    this.#rate = new PublishRate(startedAt);
  }

  record(busTs: number, emittedAt: number): void {
    this.#rate.record(busTs);
    this.#busTs[this.#next] = busTs;
    this.#emittedAt[this.#next] = emittedAt;
    this.#next = (this.#next + 1) % this.#busTs.length;
    this.#size = Math.min(this.#size + 1, this.#busTs.length);
  }

  summary(now: number, windowMs = DEFAULT_WINDOW_MS): DeliverySummary {
    const from = now - windowMs;
    const latencies: number[] = [];
    for (let i = 0; i < this.#size; i++) {
      const emittedAt = this.#emittedAt[i] as number;
      if (emittedAt >= from) latencies.push(Math.max(0, emittedAt - (this.#busTs[i] as number)));
    }
    return { publishRate: this.#rate.rate(now, windowMs), delivery: summarize(latencies) };
  }
}

function summarize(latencies: number[]): LatencySummary {
  if (latencies.length === 0) return { count: 0, p50Ms: null, p99Ms: null, maxMs: null };
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] as number,
  };
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}
