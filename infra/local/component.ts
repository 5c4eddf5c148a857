/**
 * Starting a tailcast component (ingest function or tailer node) as its own Node process, for the
 * local stack and the integration tests. The child cannot outlive us (see infra/devdb/server-process.ts).
 */
import { join } from "node:path";
import { REPO_ROOT } from "../devdb/ferretdb-build.ts";
import { freePort } from "../devdb/launcher.ts";
import { type ServerExit, type ServerProcess, spawnServer } from "../devdb/server-process.ts";

export type ComponentKind = "functions" | "tailer";

const ENTRY: Record<ComponentKind, string> = {
  functions: join(REPO_ROOT, "functions", "node.ts"),
  tailer: join(REPO_ROOT, "tailer", "main.ts"),
};

/** The same entries as production bundles (infra/build/bundle.ts), under a build's output directory. */
const BUNDLE: Record<ComponentKind, string> = {
  functions: join("functions", "node.mjs"),
  tailer: join("tailer", "main.mjs"),
};

export interface Component {
  kind: ComponentKind;
  port: number;
  url: string;
  pid: number;
  exited: Promise<ServerExit>;
  output(): string[];
  /** Resolves once GET /readyz answers 200 (for a tailer: it has a live cursor on the bus). */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<ServerExit>;
  kill(signal: NodeJS.Signals): Promise<ServerExit>;
}

export interface ComponentOptions {
  kind: ComponentKind;
  env: Record<string, string>;
  port?: number;
  onLine?: (line: string) => void;
  /** Extra Node options before the entry (e.g. `--cpu-prof`, which NODE_OPTIONS does not accept). */
  nodeArgs?: string[];
  /** Run the built bundle under this output directory with plain `node` (no tsx), from that directory. */
  bundleDir?: string;
}

export async function startComponent(opts: ComponentOptions): Promise<Component> {
  const port = opts.port ?? (await freePort());
  const entry = opts.bundleDir
    ? ["--enable-source-maps", join(opts.bundleDir, BUNDLE[opts.kind])]
    : ["--import", "tsx", ENTRY[opts.kind]];
  const proc: ServerProcess = await spawnServer(process.execPath, [...(opts.nodeArgs ?? []), ...entry], {
    cwd: opts.bundleDir ?? REPO_ROOT,
    env: {
      ...process.env,
      // A bundle runs on its own: nothing preloaded (tsx) from the parent's options.
      ...(opts.bundleDir ? { NODE_OPTIONS: "" } : {}),
      HOST: "127.0.0.1",
      ...opts.env,
      PORT: String(port),
    },
    deathSignal: "TERM",
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    kind: opts.kind,
    port,
    url,
    pid: proc.pid,
    exited: proc.exited,
    output: proc.output,
    ready: (timeoutMs = 30_000) => waitReady(url, proc, timeoutMs),
    stop: proc.stop,
    kill: proc.kill,
  };
}

async function waitReady(url: string, proc: ServerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (proc.hasExited()) throw new Error(`${url} exited before it was ready:\n${proc.output().join("\n")}`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last}):\n${proc.output().join("\n")}`);
}
