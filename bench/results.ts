/** The shape of one run's results: what run.ts collects, targets.ts judges, table.ts and report/ show. */
import type { RigResult } from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import type { Delivery, Summary } from "./stats.ts";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  /** e.g. "FerretDB v1.24.2 (SQLite)", "MongoDB 7.0.12". */
  database: string;
  databaseKind: string;
  /** The FerretDB binary, when the run started one. */
  ferretdbBin?: string;
}

export const FANOUT_SERVERS = ["bare-ws", "tailcast-sio", "tailcast-ws"] as const;
export type FanoutServer = (typeof FANOUT_SERVERS)[number];

export interface FanoutResult {
  server: FanoutServer;
  clients: number;
  messages: number;
  delivery: Delivery;
  /** Deliveries per second, first arrival to last arrival over all clients. */
  deliveriesPerSec: number;
  durationMs: number;
  /** Server RSS growth per connected, subscribed, idle client. */
  rssPerConnection: number | null;
  error?: string;
}

export interface RecoveryResult {
  /** "window": the node saw the messages (memory); "bus": a node started after them reads the bus. */
  path: "window" | "bus";
  transport: "tailcast-sio" | "tailcast-ws";
  k: number;
  busDocs: number;
  /** Subscribe with `since` → ack (every missed message arrives before the ack), per repetition. */
  ms: number[];
  medianMs: number;
  /** Every repetition received exactly the k missed messages, in order, and `recovered: true`. */
  exact: boolean;
  error?: string;
}

/** Partitioned buses (bench/scenarios/partitioned.ts). */
export interface PartitionedResult {
  /** Documents each tailer read while the same messages were published, with 1 bus and with several. */
  reads: Array<{ buses: number; tailer: number; read: number; perBus: number[]; published: number }>;
  /** Acknowledged messages per second through one ingest process (batches over every channel). */
  publish: Array<{ buses: number; rate: number }>;
}

/**
 * One condition of the slow-consumer scenario (bench/scenarios/slow-consumer.ts), over all its blocks:
 * "baseline" (no slow client) or "slow client".
 */
export interface SlowConsumerPhase {
  name: "baseline" | "slow client";
  /** Blocks of this condition (they alternate with the other's). */
  blocks: number;
  /** Steady messages at every normal subscriber, all blocks together: bus `ts` → receipt. */
  latency: Summary;
  /** The p99 of each block alone, in order: how much it moves within the condition. */
  blockP99: number[];
  /** Steady messages: every normal subscriber, every acknowledged one, once, in order. */
  steady: Delivery;
  /** The bulk load on the same channel, as the normal subscribers got it. */
  bulk: Delivery;
  /** Bulk bytes acknowledged per second, mean of the blocks. */
  bulkBytesPerSec: number;
  /** The tailer's RSS, sampled through every block. */
  rss: { peak: number; mean: number };
  /** Most bytes `/stats` saw waiting on one connection. */
  largestPendingBytes: number;
  /** Slow-consumer cuts the tailer counted (`/stats` `slowConsumers`). */
  cuts: { ws: number; socketIo: number };
}

export interface SlowConsumerResult {
  readers: { socketIo: number; ws: number };
  /** Steady load: small messages per second; bulk: messages per second of `bulkBytes` each. */
  steadyRate: number;
  bulkRate: number;
  bulkBytes: number;
  blockMs: number;
  /** The tailer's bound (`TAILCAST_MAX_PENDING_BYTES`, from `/stats`). */
  maxPendingBytes: number;
  /** Baseline, then slow client. */
  phases: SlowConsumerPhase[];
  /** p99 with the slow client over p99 of the baseline (each over all its blocks' samples). */
  p99Ratio: number;
  /** What the slow client saw: connections, cuts it was told of, ends without the signal. */
  slowClient: { connections: number; signalled: number; otherEnds: number; errors: string[] };
}

export interface TargetResult {
  id: string;
  what: string;
  target: string;
  measured: string;
  /** true PASS, false MISS, null not measured in this run. */
  pass: boolean | null;
}

export interface BenchResults {
  meta: {
    startedAt: string;
    mode: "quick" | "full";
    command: string;
    durationMs: number;
    machine: MachineInfo;
    options: BenchOptions;
  };
  rigs: RigResult[];
  fanout: FanoutResult[];
  recovery: RecoveryResult[];
  partitioned?: PartitionedResult;
  slowConsumer?: SlowConsumerResult;
  skipped: Array<{ scenario: string; reason: string }>;
  targets: TargetResult[];
}
