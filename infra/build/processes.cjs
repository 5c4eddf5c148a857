// The processes of one host running the production bundles (README "Deploying"): the ingest function
// and one tailer per port, each with its own ports and environment. Read by pm2
// (infra/pm2/ecosystem.config.cjs, loaded with `require`) and by `npm run start:prod`
// (infra/build/start-prod.mjs, plain node): plain CommonJS, no dependencies. Types: processes.d.cts.
//
// From the environment given:
//   TAILCAST_INGEST_PORT   the ingest function's port (default 8080)
//   TAILCAST_TAILER_PORTS  tailer ports, one tailer each (the default is the caller's)
//   TAILCAST_METRICS_PORT  if set, the first of consecutive /metrics ports, one per process: the
//                          ingest's, then tailer-1's (+1), tailer-2's (+2)… Two processes on one host
//                          cannot listen on the same port, and a process that cannot bind its metrics
//                          port exits at start (shared/metrics/expose.ts).
//   MONGODB_URI, HOST, TAILCAST_*  every setting the components read (README "Configuration"), passed on
"use strict";

const DEFAULT_INGEST_PORT = "8080";

/** Read here and set per process: never passed on as given. */
const HOST_VARIABLES = [
  "TAILCAST_INGEST_PORT",
  "TAILCAST_TAILER_PORTS",
  "TAILCAST_DIST",
  "TAILCAST_METRICS_PORT",
];

class HostProcessesError extends Error {
  constructor(message) {
    super(message);
    this.name = "HostProcessesError";
    this.code = "invalid_host_processes";
  }
}

/** Blank counts as unset, as the components read their variables (shared/env.ts). */
const given = (value) => (value === undefined || value.trim() === "" ? undefined : value);

function parsePorts(name, value) {
  const ports = value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  for (const p of ports) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
      throw new HostProcessesError(`${name}: ${JSON.stringify(p)} is not a port (1-65535)`);
    }
  }
  if (ports.length === 0) throw new HostProcessesError(`${name}: no port given`);
  return ports.map(Number);
}

/** The components' own settings, passed on to every process. */
function settingsOf(env) {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([name, value]) =>
        value !== undefined &&
        /^(MONGODB_URI|HOST|TAILCAST_[A-Z0-9_]+)$/.test(name) &&
        !HOST_VARIABLES.includes(name),
    ),
  );
}

/**
 * Every process of the host, ingest first: its name (pm2's app name), the bundle it runs (under the
 * build's output directory), its port and its whole tailcast environment.
 */
function hostProcesses(env, defaults) {
  const [ingestPort, ...extra] = parsePorts(
    "TAILCAST_INGEST_PORT",
    given(env.TAILCAST_INGEST_PORT) ?? DEFAULT_INGEST_PORT,
  );
  if (extra.length > 0) throw new HostProcessesError("TAILCAST_INGEST_PORT: one port only");
  const tailerPorts = parsePorts(
    "TAILCAST_TAILER_PORTS",
    given(env.TAILCAST_TAILER_PORTS) ?? defaults.tailerPorts,
  );
  const metricsBase =
    given(env.TAILCAST_METRICS_PORT) === undefined
      ? undefined
      : parsePorts("TAILCAST_METRICS_PORT", env.TAILCAST_METRICS_PORT)[0];
  const metrics = (i) =>
    metricsBase === undefined ? {} : { TAILCAST_METRICS_PORT: String(metricsBase + i) };

  const settings = settingsOf(env);
  const peerUrls = tailerPorts.map((p) => `http://localhost:${p}`).join(",");
  const processes = [
    {
      name: "tailcast-ingest",
      bundle: "functions/node.mjs",
      port: ingestPort,
      env: { ...settings, PORT: String(ingestPort), ...metrics(0) },
    },
    ...tailerPorts.map((port, i) => ({
      name: `tailcast-tailer-${i + 1}`,
      bundle: "tailer/main.mjs",
      port,
      env: {
        TAILCAST_INGEST_URL: `http://localhost:${ingestPort}`,
        TAILCAST_PEER_URLS: peerUrls,
        ...settings,
        PORT: String(port),
        TAILCAST_NODE_ID: `tailer-${i + 1}`,
        ...metrics(i + 1),
      },
    })),
  ];

  const owners = new Map();
  for (const p of processes) {
    for (const [what, value] of [
      ["PORT", p.env.PORT],
      ["TAILCAST_METRICS_PORT", p.env.TAILCAST_METRICS_PORT],
    ]) {
      if (value === undefined) continue;
      const port = Number(value);
      if (port > 65535) {
        throw new HostProcessesError(`TAILCAST_METRICS_PORT: ${p.name} would get ${port}, past 65535`);
      }
      const owner = owners.get(port);
      if (owner) throw new HostProcessesError(`port ${port} is both ${owner} and ${p.name}'s ${what}`);
      owners.set(port, `${p.name}'s ${what}`);
    }
  }
  return processes;
}

/**
 * How long a stopping process may take before it is killed: past the drain timeout (default 30 s), so
 * a draining tailer hands its clients over first.
 */
function stopTimeoutMs(env) {
  const drainMs = Number(given(env.TAILCAST_DRAIN_TIMEOUT_MS) ?? 30_000);
  // A bad value stops the components at start (shared/config.ts); the default stands in until then.
  return (Number.isFinite(drainMs) ? drainMs : 30_000) + 5_000;
}

module.exports = { hostProcesses, stopTimeoutMs, HostProcessesError, HOST_VARIABLES };
