/**
 * What every capacity script shares: its output line, where it leaves its figures
 * (`bench-results/capacity-<name>-<time>.json`), and how it ends on a failure.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";

/** Writes `report` (with the command that reproduces it) and returns the file's path. */
export async function writeCapacityReport(
  name: string,
  report: { command: string; [key: string]: unknown },
): Promise<string> {
  const outDir = resolve(REPO_ROOT, "bench-results");
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `capacity-${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify(report, null, 2));
  return file;
}

export const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs a capacity script's `main`; a failure is printed with its stack and sets exit code 1. */
export function runCapacity(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    say(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  });
}
