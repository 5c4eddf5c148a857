/**
 * `npm run bench [-- --quick]`: every scenario one after another on one database server (MONGODB_URI,
 * else mongod, else the project's FerretDB — infra/devdb/launcher.ts), each process separate; prints
 * the table and writes bench-results/<stamp>.json and .html. Ctrl-C stops every process it started.
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { REPO_ROOT } from "../infra/devdb/ferretdb-build.ts";
import { type DevDb, startDevDb } from "../infra/devdb/launcher.ts";
import { machineInfo } from "./machine.ts";
import { BenchOptionsError, parseBenchArgs } from "./options.ts";
import { writeReport } from "./report/write.ts";
import type { BenchResults } from "./results.ts";
import { stopEverything } from "./rig.ts";
import { runScenarios } from "./scenarios/index.ts";
import { parseSoakArgs } from "./soak/options.ts";
import { runSoak, summaryLines, writeSoakReport } from "./soak/run.ts";
import { renderTable } from "./table.ts";
import { evaluateTargets } from "./targets.ts";

const say = (line: string) => process.stdout.write(`${line}\n`);
let db: DevDb | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await stopEverything();
    await db?.stop().catch(() => {});
  }
  process.exit(code);
}

/** `npm run bench -- soak …` (README "Soak"). */
async function soak(argv: string[]): Promise<void> {
  const options = parseSoakArgs(argv);
  say(`tailcast soak: ${options.minutes} min`);
  db = await startDevDb({ log: (l) => say(`[devdb] ${l}`) });
  const results = await runSoak(db, options, say);
  say("");
  for (const line of summaryLines(results)) say(line);
  await writeSoakReport(results, say);
  say(`took ${(results.durationMs / 1000).toFixed(0)} s`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "soak") return soak(argv.slice(1));
  const options = parseBenchArgs(argv);
  const started = Date.now();
  const outDir = resolve(REPO_ROOT, options.outDir);
  await mkdir(outDir, { recursive: true });
  say(`tailcast benchmark (${options.mode}): ${options.scenarios.join(", ")}`);
  db = await startDevDb({ log: (l) => say(`[devdb] ${l}`) });
  const machine = await machineInfo(db);
  say(`machine: ${machine.cpus}× ${machine.cpuModel}, node ${machine.node}, database ${machine.database}`);
  const results: BenchResults = {
    meta: {
      startedAt: new Date(started).toISOString(),
      mode: options.mode,
      command: `npm run bench${options.mode === "quick" ? " -- --quick" : ""}`,
      durationMs: 0,
      machine,
      options,
    },
    rigs: [],
    fanout: [],
    recovery: [],
    skipped: [],
    targets: [],
  };
  await runScenarios({ db, options, log: say, outDir }, results);
  results.meta.durationMs = Date.now() - started;
  results.targets = evaluateTargets(results);
  say("");
  say(renderTable(results));
  const files = await writeReport(results, outDir);
  say(`report: ${files.json}`);
  say(`        ${files.html}`);
  say(`took ${(results.meta.durationMs / 1000).toFixed(0)} s`);
}

process.once("SIGINT", () => {
  say("\ninterrupted: stopping every process…");
  void shutdown(130);
});
process.once("SIGTERM", () => void shutdown(143));
main().then(
  () => shutdown(0),
  (err: unknown) => {
    say(
      err instanceof BenchOptionsError
        ? err.message
        : `benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    void shutdown(err instanceof BenchOptionsError ? 2 : 1);
  },
);
