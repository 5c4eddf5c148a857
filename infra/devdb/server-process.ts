// A database server child process that cannot outlive us: started under `setpriv --pdeathsig KILL`, so the
// kernel kills it even when our process is SIGKILLed, plus an 'exit' hook for the ordinary exit path.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";

const SETPRIV = "/usr/bin/setpriv";
const OUTPUT_LINES = 50;
const STOP_GRACE_MS = 5_000;

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  pid: number;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<ServerExit>;
  hasExited(): boolean;
  /** The last ~50 lines the server wrote to stdout/stderr. */
  output(): string[];
  /** SIGTERM, then SIGKILL if still running after 5 s; resolves once the process is gone. */
  stop(): Promise<ServerExit>;
  /** Sends a signal now (tests use SIGKILL to simulate a crash); resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<ServerExit>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Every output line, as it comes (the local stack prints them with a prefix). */
  onLine?: (line: string) => void;
  /** Sent by the kernel when we die; KILL for databases, TERM lets a node component drain. */
  deathSignal?: "KILL" | "TERM";
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a SIGKILL is all we can do here.
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

export function spawnServer(
  command: string,
  args: string[],
  opts: SpawnOptions = {},
): Promise<ServerProcess> {
  installExitHook();
  // PR_SET_PDEATHSIG fires when the forking *thread* ends; libuv forks from the calling thread, which is
  // the main thread for normal processes and vitest's default "forks" pool.
  const [cmd, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ["--pdeathsig", opts.deathSignal ?? "KILL", "--", command, ...args]]
    : [command, args];
  // detached = own process group: a terminal Ctrl-C reaches only us, and stop() sends the single SIGTERM
  // (FerretDB treats a second SIGINT/SIGTERM as "stop immediately").
  const child = spawn(cmd, argv, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: opts.env ?? process.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });

  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > OUTPUT_LINES) lines.shift();
    opts.onLine?.(line);
  };
  createInterface({ input: child.stdout }).on("line", keep);
  createInterface({ input: child.stderr }).on("line", keep);

  let done = false;
  live.add(child);
  const exited = new Promise<ServerExit>((resolve) => {
    child.on("exit", (code, signal) => {
      done = true;
      live.delete(child);
      resolve({ code, signal });
    });
  });

  return new Promise((resolve, reject) => {
    child.once("error", (err) => {
      live.delete(child);
      reject(new Error(`cannot start ${command}: ${err.message}`));
    });
    child.once("spawn", () => {
      const pid = child.pid;
      if (pid === undefined) return reject(new Error(`cannot start ${command}: no pid`));
      let stopping: Promise<ServerExit> | undefined;
      resolve({
        pid,
        exited,
        hasExited: () => done,
        output: () => [...lines],
        stop() {
          stopping ??= (async () => {
            if (done) return exited;
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
            const result = await exited;
            clearTimeout(timer);
            return result;
          })();
          return stopping;
        },
        kill(signal) {
          if (!done) child.kill(signal);
          return exited;
        },
      });
    });
  });
}
