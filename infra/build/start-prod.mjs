// `npm run start:prod`: the ingest function and a tailer from the production bundles (`npm run build`),
// with plain node — no tsx, no node_modules, nothing but this file and processes.cjs beside it (README
// "Deploying" → "Bundles"). The processes, their ports and environment are infra/build/processes.cjs's,
// as under pm2: the ingest on TAILCAST_INGEST_PORT (8080), one tailer per TAILCAST_TAILER_PORTS (8081),
// each its own metrics port when TAILCAST_METRICS_PORT is set; TAILCAST_DIST is where the bundles are
// (default: dist/ of this checkout). A PORT in the environment reaches neither.
//
// Stopping. The first SIGTERM or SIGINT is passed on to every process — SIGTERM: both drain; SIGINT
// (Ctrl-C): each does what it does on Ctrl-C when run alone (the ingest drains, the tailer stops at
// once) — and later ones are ignored: npm passes a terminal's Ctrl-C on too, and a second signal would
// cut the ingest's drain short. The processes run in their own process group, so the terminal's Ctrl-C
// reaches only this launcher. It exits 0 when every process ended with 0 after the signal. A process
// that exits without being asked (a crash, a kill, a drain through POST /admin/drain) stops the others
// (SIGTERM) and the launcher exits 1. A process still running past the drain timeout + 5 s after its
// signal is killed. Where util-linux's setpriv exists, each process gets SIGTERM from the kernel if the
// launcher itself is killed (SIGKILL), so none is left behind.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { hostProcesses, stopTimeoutMs, HOST_VARIABLES } = require("./processes.cjs");

const SETPRIV = "/usr/bin/setpriv";
const here = dirname(fileURLToPath(import.meta.url));
const dist = process.env.TAILCAST_DIST || join(here, "..", "..", "dist");
const say = (line) => process.stderr.write(`start-prod: ${line}\n`);

let processes;
try {
  processes = hostProcesses(process.env, { tailerPorts: "8081" });
} catch (err) {
  say(`cannot start: ${err.message}`);
  process.exit(1);
}
const missing = processes.map((p) => join(dist, p.bundle)).filter((file) => !existsSync(file));
if (missing.length > 0) {
  say(`cannot start: no bundle at ${missing.join(", ")} (run \`npm run build\`, or set TAILCAST_DIST)`);
  process.exit(1);
}

// Everything else of the environment (PATH, NODE_OPTIONS, TZ…) reaches the processes as given.
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !HOST_VARIABLES.includes(name)),
);
const stopAfterMs = stopTimeoutMs(process.env);
let stopping = false;
let failed = false;

const running = processes.map((p) => {
  const node = [process.execPath, "--enable-source-maps", join(dist, p.bundle)];
  const [command, ...args] = existsSync(SETPRIV) ? [SETPRIV, "--pdeathsig", "TERM", "--", ...node] : node;
  const child = spawn(command, args, {
    env: { ...inherited, ...p.env },
    // The IPC channel carries the components' "ready" (shared/supervisor.ts).
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    detached: true,
  });
  return { ...p, child, ready: false, exit: undefined };
});
say(`started ${running.map((r) => `${r.name} (pid ${r.child.pid}, port ${r.port})`).join(", ")}`);

function stop(signal, why) {
  if (stopping) {
    say(`${why}: already stopping; not passed on`);
    return;
  }
  stopping = true;
  const left = running.filter((r) => r.exit === undefined);
  say(`${why}: sending ${signal} to ${left.map((r) => r.name).join(", ") || "nothing left"}`);
  for (const r of left) r.child.kill(signal);
  setTimeout(() => {
    for (const r of running.filter((x) => x.exit === undefined)) {
      say(`${r.name} still running ${stopAfterMs} ms after ${signal}: SIGKILL`);
      r.child.kill("SIGKILL");
    }
  }, stopAfterMs).unref();
}

function exited(r, how) {
  if (r.exit !== undefined) return;
  r.exit = how;
  say(`${r.name} exited (${how})`);
  if (!stopping) {
    failed = true;
    stop("SIGTERM", `${r.name} exited without being asked`);
  } else if (how !== "code 0") {
    failed = true;
  }
  if (running.every((x) => x.exit !== undefined)) process.exit(failed ? 1 : 0);
}

for (const r of running) {
  r.child.on("message", (message) => {
    if (message !== "ready" || r.ready) return;
    r.ready = true;
    if (running.every((x) => x.ready)) {
      say(`ready: ${running.map((x) => `${x.name} pid ${x.child.pid} on :${x.port}`).join(", ")}`);
    }
  });
  r.child.on("exit", (code, signal) => exited(r, signal ? `signal ${signal}` : `code ${code}`));
  r.child.on("error", (err) => exited(r, `cannot run: ${err.message}`));
}

process.on("SIGTERM", () => stop("SIGTERM", "SIGTERM"));
process.on("SIGINT", () => stop("SIGINT", "SIGINT"));
