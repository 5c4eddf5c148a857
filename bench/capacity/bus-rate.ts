/**
 * `npx tsx bench/capacity/bus-rate.ts [--seconds 5]`: how many messages per second tailcast's writer
 * (shared/bus/append.ts, group commit, w: majority) puts into one bus, with one writer process and with
 * several contending for the same bus, and the total for 1, 2 and 4 buses written in parallel (one
 * writer process per bus) — on the database the tests use (MONGODB_URI, else mongod, else the project's
 * FerretDB). On FerretDB/SQLite every bus lives in one server process on one disk, so the 2- and 4-bus
 * totals are a lower bound of what separate MongoDB replica sets would take (docs/scale.md).
 * Writes bench-results/capacity-bus-rate-<time>.json.
 */
import { parseArgs } from "node:util";
import { startDevDb } from "../../infra/devdb/launcher.ts";
import { busCollectionName } from "../../shared/bus/partition.ts";
import { machineInfo } from "../machine.ts";
import { type BenchChild, startChild } from "../procs.ts";
import { Stack, stopEverything } from "../rig.ts";
import { BUS_SIZE_BYTES, dbName, dropOnStop } from "../scenarios/common.ts";
import { cpuSeconds } from "../sysstat.ts";
import type { BusWriterConfig, WriteRequest, WriteResult } from "./bus-writer.ts";
import { runCapacity, say, writeCapacityReport } from "./report.ts";

interface Case {
  id: string;
  buses: number;
  writersPerBus: number;
  inFlight: number;
  batch: number;
  what: string;
}

/**
 * With group commit a writer's rate grows with what is in flight until the bus is saturated; the 1-,
 * 2- and 4-bus cases keep 256 appends in flight per bus so that each bus, not the writer, is the limit.
 */
const CASES: Case[] = [
  { id: "1bus-serial", buses: 1, writersPerBus: 1, inFlight: 1, batch: 1, what: "one append at a time" },
  { id: "1bus-32", buses: 1, writersPerBus: 1, inFlight: 32, batch: 1, what: "32 in flight, group commit" },
  {
    id: "1bus-4writers",
    buses: 1,
    writersPerBus: 4,
    inFlight: 8,
    batch: 1,
    what: "4 processes × 8 in flight",
  },
  {
    id: "1bus-batches",
    buses: 1,
    writersPerBus: 1,
    inFlight: 4,
    batch: 100,
    what: "4 in flight × 100 messages",
  },
  { id: "1bus", buses: 1, writersPerBus: 1, inFlight: 256, batch: 1, what: "256 in flight per bus" },
  { id: "2buses", buses: 2, writersPerBus: 1, inFlight: 256, batch: 1, what: "256 in flight per bus" },
  { id: "4buses", buses: 4, writersPerBus: 1, inFlight: 256, batch: 1, what: "256 in flight per bus" },
];

const MAX_DOCS = 20_000;
const WARMUP_MS = 1_000;

interface CaseResult extends Case {
  messagesPerSec: number;
  perBus: number[];
  messagesPerInsert: number;
  conflicts: number;
  errors: number;
  firstError: string | null;
  /** % of one core over the measured window. */
  cpu: { database: number | null; writers: number };
}

async function runCase(uri: string, db: string, c: Case, durationMs: number): Promise<CaseResult> {
  const stack = new Stack();
  try {
    const writers: Array<{ bus: number; child: BenchChild }> = [];
    for (let bus = 0; bus < c.buses; bus++) {
      for (let w = 0; w < c.writersPerBus; w++) {
        const config: BusWriterConfig = {
          uri,
          db,
          collection: busCollectionName(`bus_${c.id.replace(/-/g, "_")}`, bus),
          maxDocs: MAX_DOCS,
          sizeBytes: BUS_SIZE_BYTES,
        };
        const child = stack.add(
          await startChild(`writer-${bus}-${w}`, { script: "capacity/bus-writer.ts", config }),
        );
        writers.push({ bus, child });
      }
    }
    const request = (ms: number): WriteRequest => ({
      durationMs: ms,
      inFlight: c.inFlight,
      batch: c.batch,
      channels: Array.from({ length: 100 }, (_, i) => `rate-${i}`),
    });
    await Promise.all(writers.map((w) => w.child.request("write", request(WARMUP_MS), 60_000)));
    const pids = writers.map((w) => w.child.pid);
    const dbPid = dbPidOf();
    const before = { db: dbPid === undefined ? null : cpuSeconds(dbPid), writers: sum(pids.map(cpuSeconds)) };
    const t0 = performance.now();
    const results = await Promise.all(
      writers.map((w) => w.child.request<WriteResult>("write", request(durationMs), durationMs + 60_000)),
    );
    const seconds = (performance.now() - t0) / 1000;
    const dbAfter = dbPid === undefined ? null : cpuSeconds(dbPid);
    const perBus = new Array<number>(c.buses).fill(0);
    for (const [i, r] of results.entries()) {
      const bus = (writers[i] as { bus: number }).bus;
      perBus[bus] = (perBus[bus] as number) + (r.messages * 1000) / r.elapsedMs;
    }
    const messages = sum(results.map((r) => r.messages));
    return {
      ...c,
      messagesPerSec: sum(perBus),
      perBus,
      messagesPerInsert: messages / Math.max(1, sum(results.map((r) => r.groups))),
      conflicts: sum(results.map((r) => r.conflicts)),
      errors: sum(results.map((r) => r.errors)),
      firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
      cpu: {
        database:
          before.db === null || dbAfter === null ? null : Math.round(((dbAfter - before.db) / seconds) * 100),
        writers: Math.round(((sum(pids.map(cpuSeconds)) - before.writers) / seconds) * 100),
      },
    };
  } finally {
    await stack.stop();
  }
}

let dbPidOf: () => number | undefined = () => undefined;
const sum = (xs: Array<number | null>) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" } } });
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 60)) throw new Error("--seconds must be in (0, 60]");
  const devdb = await startDevDb({ log: (l) => say(`[devdb] ${l}`) });
  dbPidOf = () => devdb.pid;
  const shared = new Stack();
  try {
    const machine = await machineInfo(devdb);
    say(`machine: ${machine.cpus}× ${machine.cpuModel}, node ${machine.node}, database ${machine.database}`);
    const db = dbName("busrate");
    shared.add(dropOnStop(devdb.uri, db));
    const results: CaseResult[] = [];
    for (const c of CASES) {
      const r = await runCase(devdb.uri, db, c, seconds * 1000);
      results.push(r);
      say(
        `${c.id.padEnd(20)} ${c.what.padEnd(34)} ${Math.round(r.messagesPerSec).toLocaleString("en-US").padStart(7)} msg/s` +
          ` (per bus ${r.perBus.map((x) => Math.round(x)).join(", ")}; ${r.messagesPerInsert.toFixed(1)} msg/insert;` +
          ` ${r.conflicts} offset conflicts; ${r.errors} errors; CPU database ${r.cpu.database ?? "?"}%,` +
          ` writers ${r.cpu.writers}% of one core)` +
          (r.firstError ? `\n  first error: ${r.firstError}` : ""),
      );
    }
    const command = `npx tsx bench/capacity/bus-rate.ts --seconds ${seconds}`;
    const file = await writeCapacityReport("bus-rate", { command, machine, seconds, results });
    say(`report: ${file}`);
  } finally {
    await shared.stop();
    await stopEverything();
    await devdb.stop();
  }
}

runCapacity("bus-rate", main);
