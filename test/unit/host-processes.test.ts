/**
 * The processes of one host (infra/build/processes.cjs) as pm2's ecosystem file and `npm run
 * start:prod` run them: each its own main port and, when TAILCAST_METRICS_PORT is set, its own metrics
 * port (consecutive from it), never one another's; the settings given reach every process, the
 * host-level variables none. The ecosystem file is loaded the way pm2 loads it, with a given environment.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";

const require = createRequire(import.meta.url);
const PROCESSES = join(REPO_ROOT, "infra", "build", "processes.cjs");
const ECOSYSTEM = join(REPO_ROOT, "infra", "pm2", "ecosystem.config.cjs");
const { hostProcesses, stopTimeoutMs, HostProcessesError } = require(
  PROCESSES,
) as typeof import("../../infra/build/processes.cjs");

interface Pm2App {
  name: string;
  namespace: string;
  script: string;
  kill_timeout: number;
  env: Record<string, string>;
}

/** infra/pm2/ecosystem.config.cjs as pm2 loads it when started with `env` (and nothing else of ours). */
function ecosystem(env: Record<string, string>): Pm2App[] {
  for (const name of Object.keys(process.env)) {
    if (/^(MONGODB_URI|HOST|PORT|TAILCAST_[A-Z0-9_]+)$/.test(name)) vi.stubEnv(name, undefined);
  }
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  delete require.cache[ECOSYSTEM];
  return (require(ECOSYSTEM) as { apps: Pm2App[] }).apps;
}

afterEach(() => {
  vi.unstubAllEnvs();
  delete require.cache[ECOSYSTEM];
});

const ports = (apps: Array<{ env: Record<string, string> }>) =>
  apps.flatMap((a) => [a.env.PORT, a.env.TAILCAST_METRICS_PORT].filter((p) => p !== undefined));

describe("pm2's ecosystem file", () => {
  it("gives every process its own metrics port when TAILCAST_METRICS_PORT is set: the ingest's first, then tailer n at +n", () => {
    const apps = ecosystem({
      MONGODB_URI: "mongodb://db/",
      TAILCAST_TAILER_PORTS: "8081,8082,8083",
      TAILCAST_METRICS_PORT: "9464",
    });
    expect(apps.map((a) => [a.name, a.env.PORT, a.env.TAILCAST_METRICS_PORT])).toEqual([
      ["tailcast-ingest", "8080", "9464"],
      ["tailcast-tailer-1", "8081", "9465"],
      ["tailcast-tailer-2", "8082", "9466"],
      ["tailcast-tailer-3", "8083", "9467"],
    ]);
    expect(new Set(ports(apps)).size).toBe(ports(apps).length);
  });

  it("leaves /metrics on each main port when TAILCAST_METRICS_PORT is unset or blank", () => {
    for (const env of [{}, { TAILCAST_METRICS_PORT: " " }] as Array<Record<string, string>>) {
      for (const app of ecosystem(env)) expect(app.env, app.name).not.toHaveProperty("TAILCAST_METRICS_PORT");
    }
  });

  it("passes the components' settings to every process, and neither PORT nor its own variables", () => {
    const apps = ecosystem({
      MONGODB_URI: "mongodb://db/",
      HOST: "127.0.0.1",
      PORT: "3000",
      TAILCAST_DB: "prod",
      TAILCAST_DIST: "/srv/tailcast",
      TAILCAST_INGEST_PORT: "7000",
      TAILCAST_TAILER_PORTS: "7001",
      TAILCAST_DRAIN_TIMEOUT_MS: "10000",
    });
    expect(apps.map((a) => a.name)).toEqual(["tailcast-ingest", "tailcast-tailer-1"]);
    for (const app of apps) {
      expect(app.env, app.name).toMatchObject({
        MONGODB_URI: "mongodb://db/",
        HOST: "127.0.0.1",
        TAILCAST_DB: "prod",
      });
      for (const name of ["TAILCAST_DIST", "TAILCAST_INGEST_PORT", "TAILCAST_TAILER_PORTS"]) {
        expect(app.env, app.name).not.toHaveProperty(name);
      }
      expect(app.kill_timeout).toBe(15_000);
    }
    const [ingest, tailer] = apps as [Pm2App, Pm2App];
    expect(ingest).toMatchObject({ script: "/srv/tailcast/functions/node.mjs", env: { PORT: "7000" } });
    expect(tailer).toMatchObject({
      namespace: "tailcast-tailers",
      script: "/srv/tailcast/tailer/main.mjs",
      env: {
        PORT: "7001",
        TAILCAST_NODE_ID: "tailer-1",
        TAILCAST_INGEST_URL: "http://localhost:7000",
        TAILCAST_PEER_URLS: "http://localhost:7001",
      },
    });
  });
});

describe("hostProcesses", () => {
  const run = (env: Record<string, string>) => hostProcesses(env, { tailerPorts: "8081" });

  it("start:prod's default: the ingest on 8080 and one tailer on 8081", () => {
    expect(run({ TAILCAST_METRICS_PORT: "9100" }).map((p) => [p.name, p.bundle, p.port, p.env])).toEqual([
      ["tailcast-ingest", "functions/node.mjs", 8080, { PORT: "8080", TAILCAST_METRICS_PORT: "9100" }],
      [
        "tailcast-tailer-1",
        "tailer/main.mjs",
        8081,
        {
          PORT: "8081",
          TAILCAST_METRICS_PORT: "9101",
          TAILCAST_NODE_ID: "tailer-1",
          TAILCAST_INGEST_URL: "http://localhost:8080",
          TAILCAST_PEER_URLS: "http://localhost:8081",
        },
      ],
    ]);
  });

  it.each([
    [
      { TAILCAST_METRICS_PORT: "8081" },
      /port 8081 is both tailcast-ingest's TAILCAST_METRICS_PORT and tailcast-tailer-1's PORT/,
    ],
    [{ TAILCAST_METRICS_PORT: "8079" }, /port 8080 is both tailcast-ingest's PORT and .*METRICS_PORT/],
    [
      { TAILCAST_TAILER_PORTS: "8080" },
      /port 8080 is both tailcast-ingest's PORT and tailcast-tailer-1's PORT/,
    ],
    [{ TAILCAST_TAILER_PORTS: "8081,8081" }, /port 8081 is both/],
    [{ TAILCAST_METRICS_PORT: "65535" }, /past 65535/],
    [{ TAILCAST_TAILER_PORTS: "8081,x" }, /TAILCAST_TAILER_PORTS: "x" is not a port/],
    [{ TAILCAST_INGEST_PORT: "0" }, /TAILCAST_INGEST_PORT: "0" is not a port/],
    [{ TAILCAST_INGEST_PORT: "1,2" }, /one port only/],
    [{ TAILCAST_TAILER_PORTS: ", ," }, /TAILCAST_TAILER_PORTS: no port given/],
  ])("refuses ports that would collide or cannot be bound: %o", (env, message) => {
    expect(() => run(env)).toThrow(HostProcessesError);
    expect(() => run(env)).toThrow(message);
  });

  it("gives a stop the drain timeout and 5 s more", () => {
    expect(stopTimeoutMs({})).toBe(35_000);
    expect(stopTimeoutMs({ TAILCAST_DRAIN_TIMEOUT_MS: "5000" })).toBe(10_000);
  });
});
