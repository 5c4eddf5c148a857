// Builds and caches the FerretDB binary used as the dev/test database (docs/ferretdb.md).
// `go install …@v1.24.2` yields a binary that panics at start because build/version/version.txt is not in
// the module download, so we build ./cmd/ferretdb from a writable copy of the module with that file added,
// after applying the project's patches (infra/devdb/ferretdb/README.md says what they change and why).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import {
  access,
  constants,
  cp,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const FERRETDB_VERSION = "v1.24.2";
const MODULE = `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`;

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Patches applied to the module before `go build`, in file name order. */
export const FERRETDB_PATCH_DIR = join(REPO_ROOT, "infra", "devdb", "ferretdb");

export interface FerretDBBinary {
  path: string;
  /** Built here with the patches of FERRETDB_PATCH_DIR; false for a TAILCAST_FERRETDB_BIN binary. */
  patched: boolean;
}

/** The patch files, in the order they are applied. */
function patchFiles(): string[] {
  return readdirSync(FERRETDB_PATCH_DIR)
    .filter((name) => name.endsWith(".patch"))
    .sort()
    .map((name) => join(FERRETDB_PATCH_DIR, name));
}

/**
 * `.cache/ferretdb/<version>-<first 8 hex of a SHA-256 over the patches' names and contents>/ferretdb`:
 * a changed, added or removed patch gives a new path, hence a new build.
 */
export function ferretdbCachePath(): string {
  const hash = createHash("sha256");
  for (const file of patchFiles())
    hash
      .update(`${basename(file)}\0`)
      .update(readFileSync(file))
      .update("\0");
  const key = `${FERRETDB_VERSION}-${hash.digest("hex").slice(0, 8)}`;
  return join(REPO_ROOT, ".cache", "ferretdb", key, "ferretdb");
}

export function stderrLog(line: string): void {
  process.stderr.write(`[devdb] ${line}\n`);
}

export async function ensureFerretDB(opts: { log?: (line: string) => void } = {}): Promise<FerretDBBinary> {
  const log = opts.log ?? stderrLog;
  const override = process.env.TAILCAST_FERRETDB_BIN;
  if (override) {
    try {
      await access(override, constants.X_OK);
    } catch {
      throw new Error(`TAILCAST_FERRETDB_BIN=${override} is not an executable file`);
    }
    return { path: override, patched: false };
  }
  const bin = ferretdbCachePath();
  if (existsSync(bin)) return { path: bin, patched: true };

  await assertToolsAvailable();
  await mkdir(dirname(bin), { recursive: true });
  const release = await acquireLock(`${bin}.lock`, log);
  try {
    // Another process may have finished the build while we waited for the lock.
    if (!existsSync(bin)) await build(bin, log);
    return { path: bin, patched: true };
  } finally {
    await release();
  }
}

async function assertToolsAvailable(): Promise<void> {
  const missing: string[] = [];
  for (const tool of ["go", "git"]) {
    const found = await run(tool, ["version"], {}, () => {}).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(tool);
  }
  if (missing.length > 0) {
    throw new Error(
      `FerretDB ${FERRETDB_VERSION} is not built yet and ${missing.map((t) => `"${t}"`).join(" and ")} ` +
        "not on PATH (go builds it, git applies the project's patches). Fix one of: install what is " +
        "missing (https://go.dev/dl/, your package manager's git) and retry; set MONGODB_URI to a real " +
        "MongoDB; put mongod on PATH; or set TAILCAST_FERRETDB_BIN to a FerretDB binary.",
    );
  }
}

async function build(bin: string, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  await removeLeftovers(bin);
  log(`building patched FerretDB ${FERRETDB_VERSION} into ${bin} (one-time, ~1-2 min)…`);
  let json = "";
  await run("go", ["mod", "download", "-json", MODULE], {}, log, (chunk) => {
    json += chunk;
  });
  const moduleDir = (JSON.parse(json) as { Dir?: string }).Dir;
  if (!moduleDir) throw new Error(`go mod download ${MODULE} printed no "Dir": ${json}`);

  // The module cache is read-only; build in a private copy next to the target (same filesystem → atomic rename).
  const work = `${bin}.src-${process.pid}`;
  const tmpBin = `${bin}.tmp-${process.pid}`;
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    await rm(work, { recursive: true, force: true });
    await cp(moduleDir, work, { recursive: true });
    await chmodTree(work);
    await mkdir(join(work, "build", "version"), { recursive: true });
    await writeFile(join(work, "build", "version", "version.txt"), FERRETDB_VERSION);
    await applyPatches(work, log);
    // go build is silent while compiling (~90 s cold), so say that it is still alive.
    heartbeat = setInterval(() => log(`still compiling FerretDB… (${elapsed(started)} s)`), 15_000);
    const build = ["build", "-trimpath", "-o", tmpBin, "./cmd/ferretdb"];
    await run("go", build, { cwd: work, env: { CGO_ENABLED: "0" } }, log);
    await rename(tmpBin, bin);
  } finally {
    clearInterval(heartbeat);
    await rm(work, { recursive: true, force: true });
    await rm(tmpBin, { force: true });
  }
  log(`built FerretDB in ${elapsed(started)} s`);
}

const elapsed = (since: number) => Math.round((Date.now() - since) / 1000);

/**
 * `git apply` works outside a repository like `patch -p1`, and git is on every machine that cloned the
 * project (`patch` is not in a minimal Debian). The work dir lies inside this repository's checkout, where
 * git would resolve the patch's paths against the repository root and silently skip them all, so repository
 * discovery is stopped at the work dir's parent. All patches apply, or none (then the build fails).
 */
async function applyPatches(work: string, log: (line: string) => void): Promise<void> {
  const files = patchFiles();
  if (files.length === 0) return;
  log(`applying ${files.map((f) => basename(f)).join(", ")}`);
  const env = { GIT_CEILING_DIRECTORIES: dirname(work) };
  await run("git", ["apply", "--whitespace=nowarn", ...files], { cwd: work, env }, log);
}

async function chmodTree(dir: string): Promise<void> {
  await run("chmod", ["-R", "u+w", dir], {}, () => {});
}

/** We hold the lock, so any leftover work dir / partial binary belongs to a build that was killed. */
async function removeLeftovers(bin: string): Promise<void> {
  const base = basename(bin);
  for (const name of await readdir(dirname(bin))) {
    if (name.startsWith(`${base}.src-`) || name.startsWith(`${base}.tmp-`)) {
      await rm(join(dirname(bin), name), { recursive: true, force: true });
    }
  }
}

/** Runs a command, streaming stderr (and stdout unless `onStdout` is given) line by line to `log`. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> },
  log: (line: string) => void,
  onStdout?: (chunk: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      log(line);
    };
    createInterface({ input: child.stderr }).on("line", onLine);
    if (onStdout) child.stdout.setEncoding("utf8").on("data", onStdout);
    else createInterface({ input: child.stdout }).on("line", onLine);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail.join("\n")}`),
        );
    });
  });
}

/**
 * Exclusive lock via atomic mkdir: several vitest workers or `npm start` may call ensureFerretDB at once.
 * The holder's pid is recorded so a lock left by a killed process is detected and broken.
 */
async function acquireLock(lockDir: string, log: (line: string) => void): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, "pid"), String(process.pid));
      return () => rm(lockDir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = await lockHolder(lockDir);
    if (holder === "stale") {
      log(`removing stale FerretDB build lock ${lockDir}`);
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for another process (pid ${holder ?? "?"}) that is building FerretDB…`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function lockHolder(lockDir: string): Promise<number | "stale" | undefined> {
  const pid = Number.parseInt(await readFile(join(lockDir, "pid"), "utf8").catch(() => ""), 10);
  const age = await stat(lockDir).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  );
  // The holder writes its pid right after mkdir, so only a lock that stays pid-less is abandoned; a build
  // never takes 20 min, so an older lock means its pid was reused by an unrelated process.
  if (Number.isNaN(pid)) return age > 10_000 ? "stale" : undefined;
  if (age > 20 * 60_000) return "stale";
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH" ? "stale" : pid;
  }
}
