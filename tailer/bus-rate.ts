/**
 * One bus's publish rate as a node sees it, for the status page's bus rows (README "Status page"):
 * messages per second over the last minute, counted by their bus `ts` (a backlog read late does not
 * count as current publishing), in one-second buckets so that its memory is fixed whatever the rate
 * and a node with 64 buses keeps 64 small arrays. Pure: times are passed in.
 */

const BUCKETS = 60;

export class PublishRate {
  /** The second (ms since the epoch / 1000, floored) each bucket counts; -1 while unused. */
  readonly #seconds = new Float64Array(BUCKETS).fill(-1);
  readonly #counts = new Float64Array(BUCKETS);
  readonly #since: number;

  /** `since`: when counting began (a tail opened 5 s ago has a rate over those 5 s, not over a minute). */
  constructor(since: number) {
    this.#since = since;
  }

  record(busTs: number): void {
    const second = Math.floor(busTs / 1000);
    const i = second % BUCKETS;
    const held = this.#seconds[i] as number;
    if (second < held) return; // older than the window this bucket now counts: not current publishing
    if (second > held) {
      this.#seconds[i] = second;
      this.#counts[i] = 0;
    }
    this.#counts[i] = (this.#counts[i] as number) + 1;
  }

  /** Messages per second by bus `ts` over the last `windowMs` (at most a minute); 0 when none. */
  rate(now: number, windowMs = BUCKETS * 1000): number {
    const from = now - Math.min(windowMs, BUCKETS * 1000);
    let count = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const at = (this.#seconds[i] as number) * 1000;
      if (at >= from && at <= now) count += this.#counts[i] as number;
    }
    const spanMs = now - Math.max(from, this.#since);
    return count === 0 || spanMs <= 0 ? 0 : (count * 1000) / spanMs;
  }
}
