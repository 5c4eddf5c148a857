/** `npm run bench -- soak [--minutes N] [--interval S] [--out DIR]`, validated once. */
import { parseArgs } from "node:util";
import { BenchOptionsError } from "../options.ts";

export interface SoakOptions {
  minutes: number;
  /** Seconds between reports (and the publisher's steps). */
  intervalSec: number;
  /** Runs before this many minutes are warm-up: left out of the slopes. */
  warmupMinutes: number;
  rate: number;
  channels: number;
  /** Subscribed clients in all, the slow and the reconnecting one included. */
  clients: number;
  outDir: string;
  /** Where the plot goes (a path from the repository root). */
  plot: string;
}

export function parseSoakArgs(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string", default: "10" },
      interval: { type: "string", default: "60" },
      out: { type: "string", default: "bench-results" },
      plot: { type: "string", default: "docs/soak.png" },
    },
    strict: true,
  });
  const minutes = Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes < 1 || minutes > 24 * 60) {
    throw new BenchOptionsError("--minutes must be a number from 1 to 1440");
  }
  const intervalSec = Number(values.interval);
  if (!Number.isInteger(intervalSec) || intervalSec < 10 || intervalSec > 600) {
    throw new BenchOptionsError("--interval must be a whole number of seconds from 10 to 600");
  }
  return {
    minutes,
    intervalSec,
    // A fifth of the run, at least one interval: buses, windows and heaps fill up first.
    warmupMinutes: Math.max(intervalSec / 60, minutes / 5),
    rate: 500,
    channels: 100,
    clients: 1000,
    outDir: values.out ?? "bench-results",
    plot: values.plot ?? "docs/soak.png",
  };
}
