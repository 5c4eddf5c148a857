/** What a node shows of each bus it may tail (tailer/buses.ts): /stats `buses`, the per-bus metrics, the status page. */

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

/** One bus as /stats `buses` and the status page show it: its report and whether it answers. */
export interface BusStats extends BusReport {
  /** The node has a live cursor on it. */
  live: boolean;
  /**
   * It answered its last check: a live cursor counts; several buses: any other is asked for its newest
   * document every TAILCAST_LAG_INTERVAL_MS. Null before the first check.
   */
  answering: boolean | null;
  /** Messages per second by bus `ts` reaching the node's tail of it over the last minute; null while not tailed. */
  publishRate: number | null;
}
