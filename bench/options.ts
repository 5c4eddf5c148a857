/** `npm run bench [-- --quick] [--only a,b] [--bus-docs N] [--profile] [--out DIR]`, validated once. */
import { parseArgs } from "node:util";

export const SCENARIOS = [
  "floor",
  "tailcast",
  "classic",
  "redis",
  "fanout",
  "recovery",
  "partitioned",
  "slow-consumer",
] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export interface BenchOptions {
  mode: "quick" | "full";
  scenarios: ScenarioId[];
  /** Capped size (documents) of every bus, filled to it before measuring. */
  busDocs: number;
  /** Latency is measured at this many messages per second. */
  fixedRate: number;
  /** Unrecorded traffic at the fixed rate before latency is measured. */
  warmupMs: number;
  latencyMs: number;
  latencyDrainMs: number;
  /** Stepped ramp: each rate for rampStepMs; the first step that loses, duplicates or lags ends it. */
  rampRates: number[];
  rampStepMs: number;
  rampDrainMs: number;
  idleMs: number;
  /** Subscribers in the one-channel workload (half on each node). */
  clientsOneChannel: number;
  /** Channels and subscribers of the many-channel workload (each subscriber on one channel). */
  channels: number;
  clientsManyChannels: number;
  fanoutClients: number[];
  /** Deliveries per fan-out burst (clients × messages). */
  fanoutDeliveries: number;
  /** Bursts per server, alternating between servers; the median counts. */
  fanoutBursts: number;
  recoveryK: number[];
  recoveryRepeats: number;
  /**
   * Slow consumer: normal subscribers (half Socket.IO, half /ws), unrecorded load before measuring, and
   * `blocks` blocks of `blockMs`, baseline and slow client in turn, baseline first and last.
   */
  slowConsumer: { readers: number; warmupMs: number; blockMs: number; blocks: number };
  /** Runs tailers under `node --cpu-prof` and summarizes the profiles. */
  profile: boolean;
  outDir: string;
}

export class BenchOptionsError extends Error {
  override name = "BenchOptionsError";
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      "bus-docs": { type: "string" },
      profile: { type: "boolean", default: false },
      out: { type: "string", default: "bench-results" },
    },
    strict: true,
  });
  const quick = values.quick === true;
  const scenarios = values.only ? values.only.split(",").map((s) => s.trim()) : [...SCENARIOS];
  for (const s of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      throw new BenchOptionsError(`--only: unknown scenario "${s}" (known: ${SCENARIOS.join(", ")})`);
    }
  }
  const busDocs = values["bus-docs"] === undefined ? 1000 : Number(values["bus-docs"]);
  if (!Number.isInteger(busDocs) || busDocs < 100 || busDocs > 1_000_000) {
    throw new BenchOptionsError("--bus-docs must be an integer from 100 to 1000000");
  }
  const common = {
    scenarios: scenarios as ScenarioId[],
    busDocs,
    fixedRate: 100,
    channels: 100,
    profile: values.profile === true,
    outDir: values.out ?? "bench-results",
  };
  if (quick) {
    return {
      ...common,
      mode: "quick",
      warmupMs: 1000,
      latencyMs: 2000,
      latencyDrainMs: 3000,
      rampRates: [100, 400, 1600],
      rampStepMs: 1500,
      rampDrainMs: 1500,
      idleMs: 1500,
      clientsOneChannel: 8,
      clientsManyChannels: 100,
      fanoutClients: [1000],
      fanoutDeliveries: 100_000,
      fanoutBursts: 3,
      recoveryK: [10, 1000],
      recoveryRepeats: 1,
      slowConsumer: { readers: 4, warmupMs: 3000, blockMs: 5000, blocks: 5 },
    };
  }
  return {
    ...common,
    mode: "full",
    warmupMs: 2000,
    latencyMs: 8000,
    latencyDrainMs: 10_000,
    rampRates: [25, 50, 100, 200, 400, 800, 1600, 3200, 6400],
    rampStepMs: 4000,
    rampDrainMs: 3000,
    idleMs: 4000,
    clientsOneChannel: 20,
    clientsManyChannels: 100,
    fanoutClients: [1000, 5000],
    fanoutDeliveries: 300_000,
    fanoutBursts: 5,
    recoveryK: [10, 1000, 10_000],
    recoveryRepeats: 3,
    slowConsumer: { readers: 6, warmupMs: 5000, blockMs: 8000, blocks: 7 },
  };
}
