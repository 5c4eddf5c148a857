// Gives the app and the tests a MongoDB-compatible server: MONGODB_URI if set (production-like, never
// touched), else a local mongod, else FerretDB on SQLite (docs/ferretdb.md).
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { ignoreError } from "../../shared/promises.ts";
import { ensureFerretDB, stderrLog } from "./ferretdb-build.ts";
import { type ServerExit, type ServerProcess, spawnServer } from "./server-process.ts";

export interface DevDb {
  uri: string;
  port: number;
  dir: string;
  kind: "ferretdb" | "mongod" | "external";
  /**
   * FerretDB built by this project with its patches (infra/devdb/ferretdb/README.md): tailable reads cost
   * what is new, not the collection size. False for TAILCAST_FERRETDB_BIN, mongod and external.
   */
  patchedFerretDB: boolean;
  /** Server pid; undefined for an external database. */
  pid: number | undefined;
  /** Settles if the server process ends (for "external": never). */
  exited: Promise<ServerExit>;
  /** The server's last ~50 output lines (empty for "external"). */
  output(): string[];
  stop(): Promise<void>;
}

export interface DevDbOptions {
  port?: number;
  /** Data directory, created if missing and kept on stop; default: a temp dir removed on stop. */
  dir?: string;
  /**
   * FerretDB enforces capped limits only in a background job (docs/ferretdb.md); its default is 1m, ours 1s so that
   * tests see eviction at once. Each run analyzes every capped table: see DEV_CAPPED_CLEANUP_INTERVAL.
   */
  cappedCleanupInterval?: string;
  /** "auto" (default) honours MONGODB_URI, then mongod on PATH, then FerretDB. */
  server?: "auto" | "mongod" | "ferretdb";
  log?: (line: string) => void;
}

/** Startup failure; `output` holds the server's last lines for diagnosis. */
export class DevDbStartError extends Error {
  constructor(
    message: string,
    readonly output: string[],
  ) {
    super(output.length ? `${message}\n--- server output ---\n${output.join("\n")}` : message);
    this.name = "DevDbStartError";
  }
}

const READY_TIMEOUT_MS = 30_000;

/**
 * For `npm start` and `npm run devdb`: one cleanup run analyzes the whole table (ANALYZE and dbstat), so
 * running it every second kept 10% of a core busy on an idle 20,000-document bus and 47% on a
 * 100,000-document one (1% and 5% every 10 s). The bus may exceed its limits by up to this long's messages.
 */
export const DEV_CAPPED_CLEANUP_INTERVAL = "10s";

export async function startDevDb(opts: DevDbOptions = {}): Promise<DevDb> {
  const server = opts.server ?? "auto";
  const external = process.env.MONGODB_URI;
  if (server === "auto" && external) {
    return {
      uri: external,
      port: 0,
      dir: "",
      kind: "external",
      patchedFerretDB: false,
      pid: undefined,
      exited: new Promise<ServerExit>(() => {}),
      output: () => [],
      stop: async () => {},
    };
  }
  if (server === "mongod" || (server === "auto" && onPath("mongod"))) return startServer("mongod", opts);
  return startServer("ferretdb", opts);
}

/** Always FerretDB, ignoring MONGODB_URI: for tests that stop and restart the database (same port + dir). */
export function startFerretDB(opts: Omit<DevDbOptions, "server"> = {}): Promise<DevDb> {
  return startServer("ferretdb", opts);
}

export async function resolveMongoUri(
  log?: (line: string) => void,
): Promise<{ uri: string; stop(): Promise<void> }> {
  const db = await startDevDb(log ? { log } : {});
  return { uri: db.uri, stop: db.stop };
}

async function startServer(kind: "ferretdb" | "mongod", opts: DevDbOptions): Promise<DevDb> {
  const log = opts.log ?? stderrLog;
  // A busy port would make the ping below reach whoever holds it, so refuse it up front.
  if (opts.port !== undefined && !(await isPortFree(opts.port))) {
    throw new DevDbStartError(`port ${opts.port} on 127.0.0.1 is already in use`, []);
  }
  const port = opts.port ?? (await freePort());
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "tailcast-devdb-")));
  const cleanup = () => (ownDir ? rm(dir, { recursive: true, force: true }) : Promise.resolve());
  let proc: ServerProcess | undefined;
  try {
    const [command, args, patchedFerretDB] =
      kind === "mongod" ? await mongodCommand(dir, port) : await ferretCommand(dir, port, opts);
    proc = await spawnServer(command, args);
    const uri = `mongodb://127.0.0.1:${port}/`;
    await waitForPing(uri, proc, kind);
    log(`${kind} ready at ${uri} (data: ${dir}, pid ${proc.pid})`);
    const p = proc;
    let stopping: Promise<void> | undefined;
    return {
      uri,
      port,
      dir,
      kind,
      patchedFerretDB,
      pid: p.pid,
      exited: p.exited,
      output: p.output,
      stop: () => {
        stopping ??= p.stop().then(cleanup);
        return stopping;
      },
    };
  } catch (err) {
    await proc?.stop();
    await cleanup();
    throw err;
  }
}

type Command = [command: string, args: string[], patchedFerretDB: boolean];

async function ferretCommand(dir: string, port: number, opts: DevDbOptions): Promise<Command> {
  const bin = await ensureFerretDB(opts.log ? { log: opts.log } : {});
  const sqlite = join(dir, "sqlite");
  const state = join(dir, "state");
  await mkdir(sqlite, { recursive: true });
  await mkdir(state, { recursive: true });
  return [
    bin.path,
    [
      "--handler=sqlite",
      `--sqlite-url=file:${sqlite}/`, // must end with "/" and exist
      `--listen-addr=127.0.0.1:${port}`,
      `--state-dir=${state}`,
      "--debug-addr=-",
      "--telemetry=disable",
      "--log-level=warn",
      `--test-capped-cleanup-interval=${opts.cappedCleanupInterval ?? "1s"}`,
    ],
    bin.patched,
  ];
}

async function mongodCommand(dir: string, port: number): Promise<Command> {
  // Best effort: mongod is absent on our machines; kept in its own subdir so it never reads FerretDB files.
  const dbpath = join(dir, "mongod");
  await mkdir(dbpath, { recursive: true });
  return ["mongod", ["--port", String(port), "--dbpath", dbpath, "--bind_ip", "127.0.0.1"], false];
}

async function waitForPing(uri: string, proc: ServerProcess, kind: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "";
  for (;;) {
    if (proc.hasExited()) {
      const { code, signal } = await proc.exited;
      throw new DevDbStartError(
        `${kind} exited (${signal ?? `code ${code}`}) before answering ping`,
        proc.output(),
      );
    }
    const client = new MongoClient(uri, {
      serverSelectionTimeoutMS: 300,
      connectTimeoutMS: 300,
      directConnection: true,
    });
    try {
      await client.db("admin").command({ ping: 1 });
      return;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await client.close().catch(ignoreError); // the ping result is what matters
    }
    if (Date.now() > deadline) {
      throw new DevDbStartError(
        `${kind} did not answer ping within ${READY_TIMEOUT_MS} ms: ${lastError}`,
        proc.output(),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Asks the kernel for a free port. Racy by nature (someone may take it before the server binds). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}
