// tailcast under pm2: the ingest function and N tailer nodes, from the production bundles (`npm run
// build`). README "Deploying" → "pm2":
//
//   npm ci && npm run build
//   MONGODB_URI=… TAILCAST_API_KEYS=… TAILCAST_JWT_SECRET=… npx pm2 start infra/pm2/ecosystem.config.cjs
//   npx pm2 reload tailcast-tailers --parallel 1      # rolling: one tailer at a time, each back and live first
//
// Fork mode, one app per tailer, each on its own port — not cluster mode. A tailer is a whole node: it
// holds its own tailable cursor on the bus and its own clients, so there is nothing for pm2's cluster
// mode to share, and cluster mode's round-robin of connections over workers behind one port would break
// Socket.IO's HTTP long-polling, whose requests must all reach the process that holds the session
// (sticky sessions, which pm2 does not do). Put a load balancer in front of the ports instead.
//
// Read when pm2 loads this file (pm2 start / reload), from its environment — the processes, their
// ports and environment are infra/build/processes.cjs's, shared with `npm run start:prod`:
//   TAILCAST_TAILER_PORTS   tailer ports, one tailer each (default 8081,8082)
//   TAILCAST_INGEST_PORT    ingest port (default 8080)
//   TAILCAST_METRICS_PORT   if set, /metrics of each process on its own port: this one for the ingest,
//                           +1 for tailer-1, +2 for tailer-2… (one shared port would crash-loop them all)
//   TAILCAST_DIST           where the bundles are (default: dist/ of this checkout)
//   MONGODB_URI, TAILCAST_* every setting the components read (README "Configuration"), passed on as is
//   HOST                    listen address of every process (default 0.0.0.0)
const { join } = require("node:path");
const { hostProcesses, stopTimeoutMs } = require("../build/processes.cjs");

const dist = process.env.TAILCAST_DIST || join(__dirname, "..", "..", "dist");

// A stop (reload, scale down) asks the process with the IPC message "shutdown", which the components
// take as SIGTERM (shared/supervisor.ts) — pm2's own signal is SIGINT, "stop now" — and waits this long
// before SIGKILL: past the drain timeout, so a draining tailer hands its clients over first.
const common = {
  exec_mode: "fork",
  instances: 1,
  node_args: ["--enable-source-maps"],
  shutdown_with_message: true,
  kill_timeout: stopTimeoutMs(process.env),
  // The process says when it is ready (shared/supervisor.ts): a tailer once its cursor on the bus is
  // live, the ingest function once it listens and the bus is there. A reload moves on only then.
  wait_ready: true,
  listen_timeout: 30_000,
  // A crash loop backs off instead of spinning.
  exp_backoff_restart_delay: 200,
  merge_logs: true,
  time: false,
};

module.exports = {
  // Every process gets its settings in `env` (pm2 would otherwise freeze its own start env).
  apps: hostProcesses(process.env, { tailerPorts: "8081,8082" }).map((p) => ({
    ...common,
    name: p.name,
    namespace: p.name === "tailcast-ingest" ? "tailcast-ingest" : "tailcast-tailers",
    script: join(dist, p.bundle),
    env: p.env,
  })),
};
