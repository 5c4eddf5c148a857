/**
 * The benchmark's own child processes (clients, publishers, comparison servers): each its own Node
 * process, driven over Node's IPC channel, started under `setpriv --pdeathsig KILL` like the dev
 * database (infra/devdb/server-process.ts) so none outlives the runner, even when it is SIGKILLed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { REPO_ROOT } from "../infra/devdb/ferretdb-build.ts";
import type { ChildReply, ChildRequest } from "./child.ts";

const SETPRIV = "/usr/bin/setpriv";
const STOP_GRACE_MS = 3_000;

export interface BenchChild {
  name: string;
  pid: number;
  /** Sends a command and resolves with the child's answer (rejects on its error or after timeoutMs). */
  request<T>(type: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  output(): string[];
  stop(): Promise<void>;
}

export interface ChildOptions {
  /** Script under bench/, run with tsx. */
  script: string;
  config: unknown;
  nodeArgs?: string[];
  env?: Record<string, string>;
}

const live = new Set<ChildProcess>();
let configs = 0;
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export async function startChild(name: string, opts: ChildOptions): Promise<BenchChild> {
  const argv = [...(opts.nodeArgs ?? []), "--import", "tsx", join(REPO_ROOT, "bench", opts.script)];
  const [cmd, args] = existsSync(SETPRIV)
    ? [SETPRIV, ["--pdeathsig", "KILL", "--", process.execPath, ...argv]]
    : [process.execPath, argv];
  // In a file, not the environment: a few thousand client specs exceed what one variable may hold.
  const configFile = join(tmpdir(), `tailcast-bench-${process.pid}-${++configs}.json`);
  writeFileSync(configFile, JSON.stringify(opts.config));
  const child = spawn(cmd, args, {
    cwd: REPO_ROOT,
    // Own process group: a terminal Ctrl-C reaches only the runner, which stops everything in order.
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, ...opts.env, BENCH_CHILD_CONFIG_FILE: configFile },
  });
  live.add(child);
  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", keep);
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );

  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const fail = (why: string) => {
    for (const p of pending.values()) p.reject(new Error(`${name}: ${why}\n${lines.join("\n")}`));
    pending.clear();
  };
  void exit.then(() => fail("exited"));
  child.on("message", (raw) => {
    const reply = raw as ChildReply;
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`${name}: ${reply.error}`));
  });

  const self: BenchChild = {
    name,
    pid: child.pid ?? -1,
    output: () => [...lines],
    request<T>(type: string, payload?: unknown, timeoutMs = 60_000): Promise<T> {
      if (exited) return Promise.reject(new Error(`${name}: exited\n${lines.join("\n")}`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no answer to ${type} within ${timeoutMs} ms\n${lines.join("\n")}`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        const message: ChildRequest = { id, type, payload };
        child.send(message);
      });
    },
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await exit;
      clearTimeout(timer);
    },
  };
  await new Promise<void>((resolve, reject) => {
    child.once("error", (err) => reject(new Error(`cannot start ${name}: ${err.message}`)));
    child.once("spawn", () => resolve());
  });
  try {
    await self.request("ping", undefined, 30_000);
  } finally {
    rmSync(configFile, { force: true });
  }
  return self;
}
