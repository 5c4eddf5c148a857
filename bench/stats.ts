/**
 * Pure statistics for the benchmark: percentiles, bounded latency samples, and the per-client check
 * of order, loss and duplicates. No I/O, so test/unit/bench-stats.test.ts can pin it down.
 */

/** The p-th percentile (0–100) of values, linear between closest ranks; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return percentileOfSorted(sorted, p);
}

export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 100) return sorted[sorted.length - 1] as number;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[], exactMax?: number): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  const sampledMax = sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN;
  return {
    count: sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    max: exactMax === undefined ? sampledMax : Math.max(exactMax, sorted.length ? sampledMax : exactMax),
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/**
 * How much a change moved the tail: p99 of `treated` over p99 of `baseline` (NaN when either has no
 * values). Quoted within one run, as every comparison on a shared machine.
 */
export function p99Ratio(treated: readonly number[], baseline: readonly number[]): number {
  return percentile(treated, 99) / percentile(baseline, 99);
}

/** Peak and mean of a series of samples (a process's RSS over a phase); NaN for none. */
export function peakAndMean(values: readonly number[]): { peak: number; mean: number } {
  if (values.length === 0) return { peak: Number.NaN, mean: Number.NaN };
  let peak = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const v of values) {
    if (v > peak) peak = v;
    sum += v;
  }
  return { peak, mean: sum / values.length };
}

/**
 * Keeps at most `capacity` values, each seen value with the same chance (reservoir sampling), so a
 * client at thousands of messages per second reports a bounded sample; the exact max is kept apart.
 */
export class Reservoir {
  readonly #capacity: number;
  readonly #random: () => number;
  readonly #values: number[] = [];
  #seen = 0;
  #max = Number.NEGATIVE_INFINITY;

  constructor(capacity: number, random: () => number = Math.random) {
    this.#capacity = capacity;
    this.#random = random;
  }

  add(value: number): void {
    this.#seen++;
    if (value > this.#max) this.#max = value;
    if (this.#values.length < this.#capacity) {
      this.#values.push(value);
      return;
    }
    const slot = Math.floor(this.#random() * this.#seen);
    if (slot < this.#capacity) this.#values[slot] = value;
  }

  get seen(): number {
    return this.#seen;
  }

  get max(): number {
    return this.#max;
  }

  values(): number[] {
    return [...this.#values];
  }
}

/**
 * One client's view of one channel within one measured step. `seq` is the publisher's number for the
 * message in its channel (unique, from 0); `orderKey` is what must strictly increase in arrival order:
 * the bus offset where the system assigns one, else `seq` (those publishers send each channel in order).
 */
export class ChannelCheck {
  readonly #seen = new Set<number>();
  #lastKey = Number.NEGATIVE_INFINITY;
  duplicates = 0;
  disorders = 0;

  /** Returns what this arrival was. */
  observe(seq: number, orderKey: number = seq): "ok" | "duplicate" | "disorder" {
    if (this.#seen.has(seq)) {
      this.duplicates++;
      return "duplicate";
    }
    this.#seen.add(seq);
    if (orderKey <= this.#lastKey) {
      this.disorders++;
      return "disorder";
    }
    this.#lastKey = orderKey;
    return "ok";
  }

  get distinct(): number {
    return this.#seen.size;
  }

  /**
   * How many acknowledged messages this client never got: the publisher sent seqs 0..sent-1 in this
   * channel, and `failed` lists those it was told were not stored.
   */
  lostOf(sent: number, failed: ReadonlySet<number> = new Set()): number {
    let lost = 0;
    for (let seq = 0; seq < sent; seq++) if (!failed.has(seq) && !this.#seen.has(seq)) lost++;
    return lost;
  }
}

/** What every client reports for a step, summed over clients by the runner. */
export interface Delivery {
  /** Deliveries the clients should have had (acknowledged publishes × subscribers of their channel). */
  expected: number;
  /** Distinct expected messages that arrived. */
  delivered: number;
  duplicates: number;
  disorders: number;
  /** Deliveries of messages for a channel the client did not ask for (the classic prototype sends all). */
  unwanted: number;
  /** Deliveries of messages from before the run (a replayed bus). */
  stale: number;
}

export function emptyDelivery(): Delivery {
  return { expected: 0, delivered: 0, duplicates: 0, disorders: 0, unwanted: 0, stale: 0 };
}

export function addDelivery(a: Delivery, b: Delivery): Delivery {
  return {
    expected: a.expected + b.expected,
    delivered: a.delivered + b.delivered,
    duplicates: a.duplicates + b.duplicates,
    disorders: a.disorders + b.disorders,
    unwanted: a.unwanted + b.unwanted,
    stale: a.stale + b.stale,
  };
}

export function lost(d: Delivery): number {
  return Math.max(0, d.expected - d.delivered);
}

/** Exactly once, in order, nothing missing. */
export function isClean(d: Delivery): boolean {
  return lost(d) === 0 && d.duplicates === 0 && d.disorders === 0;
}

/** "120 lost, 3 dup" — empty for a clean delivery. */
export function describeFaults(d: Delivery): string {
  const parts: string[] = [];
  if (lost(d) > 0) parts.push(`${lost(d)} lost`);
  if (d.duplicates > 0) parts.push(`${d.duplicates} dup`);
  if (d.disorders > 0) parts.push(`${d.disorders} out of order`);
  if (d.stale > 0) parts.push(`${d.stale} stale`);
  return parts.join(", ");
}
