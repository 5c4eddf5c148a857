/**
 * What the code says a deployment may name, read from the sources at test time, for the static checks
 * of the container, compose and Kubernetes files: the environment variables the components read (the
 * keys of their zod schemas), the HTTP paths each component serves, the bundles the build emits, and
 * the components' default ports. Nothing here is a hand-kept list: a renamed variable or route shows
 * up as a mismatch.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { loadIngestConfig, loadTailerConfig } from "../../shared/config.ts";

export { REPO_ROOT };

export type ComponentName = "functions" | "tailer";

/** The production sources of a component: its own directory and shared/. */
const SOURCES: Record<ComponentName, string[]> = {
  functions: ["functions", "shared"],
  tailer: ["tailer", "shared"],
};

function tsFiles(dir: string): string[] {
  const abs = join(REPO_ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(REPO_ROOT, path)).isDirectory()) return tsFiles(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

export function readRepoFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), "utf8");
}

function sourcesOf(component: ComponentName): string {
  return SOURCES[component]
    .flatMap(tsFiles)
    .map((f) => readRepoFile(f))
    .join("\n");
}

/**
 * Variables a component reads: keys of its configuration schemas (`NAME: z…`, `NAME: int(…)`, as in
 * shared/config.ts and shared/auth/) and direct `env.NAME` reads.
 */
export function envNamesRead(component: ComponentName): Set<string> {
  const code = sourcesOf(component);
  const names = new Set<string>();
  for (const m of code.matchAll(/^\s+((?:TAILCAST|MONGODB)_[A-Z0-9_]+|PORT|HOST):\s/gm))
    names.add(m[1] as string);
  for (const m of code.matchAll(/\benv\.((?:TAILCAST|MONGODB)_[A-Z0-9_]+)/g)) names.add(m[1] as string);
  return names;
}

/**
 * Literal paths a component's Hono apps serve (`app.get("/healthz", …)`, `.post(…)`), and path
 * constants such routes use (`const METRICS_PATH = "/metrics"`).
 */
export function pathsServed(component: ComponentName): Set<string> {
  const code = sourcesOf(component);
  const paths = new Set<string>();
  for (const m of code.matchAll(/\.(?:get|post|put|delete|all)\(\s*"(\/[^"]*)"/g)) paths.add(m[1] as string);
  for (const m of code.matchAll(/\bconst [A-Z_]+_PATH = "(\/[^"]*)"/g)) paths.add(m[1] as string);
  return paths;
}

/** The port a component listens on without PORT set. */
export function defaultPort(component: ComponentName): number {
  return component === "functions" ? loadIngestConfig({}).port : loadTailerConfig({}).port;
}

/**
 * Why `dist/…` is not something `npm run build` emits, or undefined when it is: the build script (the
 * package.json command and the file it runs, with its neighbours) names the output, whole, as an
 * output directory plus the entry's source file, or as quoted path segments.
 */
export function bundleProblem(distPath: string): string | undefined {
  const pkg = JSON.parse(readRepoFile("package.json")) as { scripts?: Record<string, string> };
  const command = pkg.scripts?.build;
  if (command === undefined) return `package.json has no "build" script (to emit ${distPath})`;
  const files = [...command.matchAll(/[\w./-]+\.(?:ts|mjs|js|cjs)\b/g)]
    .map((m) => m[0])
    .filter((f) => existsSync(join(REPO_ROOT, f)));
  // The build file may import its entry list from beside it.
  const dirs = [...new Set(files.map((f) => f.replace(/\/[^/]+$/, "")))];
  const related = dirs.flatMap((d) => tsFiles(d)).filter((f) => !f.includes("test"));
  const sources = [...new Set([...files, ...related])];
  const all = [command, ...sources.map(readRepoFile)].join("\n");
  if (all.includes(distPath)) return undefined;
  const dir = distPath.replace(/\/[^/]+$/, "");
  const entry = distPath.replace(/^dist\//, "").replace(/\.mjs$/, "");
  if (all.includes(dir) && (all.includes(`${entry}.ts`) || all.includes(`"${entry}"`))) return undefined;
  // Paths put together with join("dist", "tailer", "main.mjs"): every segment quoted.
  const segments = distPath.split("/");
  if (segments.every((seg) => all.includes(`"${seg}"`) || all.includes(`'${seg}'`))) return undefined;
  return `the build (${command}) does not name ${distPath}`;
}

/**
 * The heartbeats on a tailer's upgraded connections: Socket.IO's as tailer/socketio.ts sets them up
 * (its own pingInterval / pingTimeout if it sets any, else engine.io's defaults) and the /ws ping
 * interval (TAILCAST_WS_HEARTBEAT_MS's default).
 */
export function tailerHeartbeats(): { pingInterval: number; pingTimeout: number; wsHeartbeatMs: number } {
  const code = readRepoFile("tailer/socketio.ts");
  const require = createRequire(import.meta.url);
  const { Server } = require("engine.io") as { Server: new () => { opts: Record<string, number> } };
  const defaults = new Server().opts;
  const value = (name: string) => {
    const set = new RegExp(`${name}:\\s*([\\d_]+)`).exec(code)?.[1];
    return Number(set?.replaceAll("_", "") ?? defaults[name]);
  };
  return {
    pingInterval: value("pingInterval"),
    pingTimeout: value("pingTimeout"),
    wsHeartbeatMs: loadTailerConfig({}).wsHeartbeatMs,
  };
}
