/**
 * `npm run start:prod` (infra/build/start-prod.mjs) against the test database, with bundles built for
 * the test and the launcher copied beside them, away from node_modules: it runs the ingest function and
 * a tailer on their own ports (an exported PORT reaches neither) with their own metrics ports; a
 * message published to the one reaches a client of the other; SIGTERM drains both and the launcher
 * exits 0; a second Ctrl-C while they stop is not passed on (the ingest's drain answers the publish
 * under way); and when one process dies (kill -9) the
 * launcher stops the other and exits 1.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { freePort, isPortFree } from "../../infra/devdb/launcher.ts";
import { type ServerProcess, spawnServer } from "../../infra/devdb/server-process.ts";
import { type BuiltBundles, buildToTemp } from "../helpers/bundles.ts";
import { freePortRun } from "../helpers/ports.ts";
import { heldPublish } from "../helpers/raw-http.ts";
import { connectSubscriber } from "../helpers/recording-client.ts";
import { componentEnv, post, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
let bundles: BuiltBundles;
let launcherFile: string;

beforeAll(async () => {
  bundles = await buildToTemp();
  // The launcher and the module it reads, beside the bundles: nothing to resolve from node_modules.
  for (const file of ["start-prod.mjs", "processes.cjs"]) {
    copyFileSync(join(REPO_ROOT, "infra", "build", file), bundles.file(file));
  }
  launcherFile = bundles.file("start-prod.mjs");
});
afterAll(() => bundles?.remove());

interface Launched {
  proc: ServerProcess;
  ingest: { url: string; pid: number };
  tailer: { url: string; pid: number };
  metricsBase: number;
  /** A PORT exported to the launcher. */
  strayPort: number;
  lines: string[];
  /** Resolves with the first output line matching `re` (already written or to come); rejects if the launcher exits first. */
  line(re: RegExp): Promise<RegExpExecArray>;
}

const launched: Launched[] = [];
afterEach(async () => {
  await Promise.all(launched.splice(0).map((l) => l.proc.stop()));
});

async function launch(): Promise<Launched> {
  const [ingestPort, tailerPort, strayPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const metricsBase = await freePortRun(2);
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const proc = await spawnServer(process.execPath, [launcherFile], {
    env: {
      PATH: process.env.PATH ?? "",
      ...componentEnv({ db }),
      // Info: the components' own log lines show the drain.
      TAILCAST_LOG_LEVEL: "info",
      HOST: "127.0.0.1",
      PORT: String(strayPort),
      TAILCAST_METRICS_PORT: String(metricsBase),
      TAILCAST_INGEST_PORT: String(ingestPort),
      TAILCAST_TAILER_PORTS: String(tailerPort),
      TAILCAST_DIST: bundles.outDir,
      TAILCAST_DRAIN_TIMEOUT_MS: "5000",
    },
    deathSignal: "TERM",
    onLine: (l) => {
      lines.push(l);
      for (const listener of [...listeners]) listener();
    },
  });
  const line = (re: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const found = lines.map((l) => re.exec(l)).find((m) => m !== null);
        if (!found) return;
        listeners.delete(check);
        resolve(found);
      };
      listeners.add(check);
      check();
      void proc.exited.then((exit) => {
        if (!listeners.has(check)) return;
        listeners.delete(check);
        reject(new Error(`start-prod exited (${JSON.stringify(exit)}) before ${re}:\n${lines.join("\n")}`));
      });
    });
  const ready = await line(
    /^start-prod: ready: tailcast-ingest pid (\d+) on :(\d+), tailcast-tailer-1 pid (\d+) on :(\d+)$/,
  );
  expect([Number(ready[2]), Number(ready[4])]).toEqual([ingestPort, tailerPort]);
  const l: Launched = {
    proc,
    ingest: { url: `http://127.0.0.1:${ingestPort}`, pid: Number(ready[1]) },
    tailer: { url: `http://127.0.0.1:${tailerPort}`, pid: Number(ready[3]) },
    metricsBase,
    strayPort,
    lines,
    line,
  };
  launched.push(l);
  return l;
}

/** Gone: no such process (the launcher reaps its children before it exits). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** The components' JSON log lines with this message. */
const logged = (lines: string[], msg: string) =>
  lines.filter((l) => l.startsWith("{")).filter((l) => (JSON.parse(l) as { msg?: string }).msg === msg);

describe("npm run start:prod", () => {
  it("is the launcher, with plain node", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts["start:prod"]).toBe("node infra/build/start-prod.mjs");
  });

  it("runs the ingest function and a tailer on their own ports; a publish reaches the tailer's client; SIGTERM drains both, exit 0", async () => {
    const l = await launch();
    for (const url of [l.ingest.url, l.tailer.url])
      expect((await fetch(`${url}/readyz`)).status, url).toBe(200);
    expect(await isPortFree(l.strayPort), "the exported PORT is nobody's").toBe(true);
    for (const [port, metric] of [
      [l.metricsBase, "tailcast_messages_appended_total"],
      [l.metricsBase + 1, "tailcast_tailer_ready"],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status, String(port)).toBe(200);
      expect(await res.text(), String(port)).toMatch(new RegExp(`^# TYPE ${metric} `, "m"));
    }

    const sub = await connectSubscriber(l.tailer.url);
    try {
      await sub.subscribe("prod");
      const res = await post(`${l.ingest.url}/v1/channels/prod/messages`, { data: { hello: "start:prod" } });
      expect(res.status).toBe(201);
      const [got] = await sub.waitFor(1);
      expect(got).toMatchObject({ id: res.body.id, data: { hello: "start:prod" } });
    } finally {
      sub.close();
    }

    const exit = await l.proc.kill("SIGTERM");
    expect(exit, l.lines.join("\n")).toEqual({ code: 0, signal: null });
    expect(gone(l.ingest.pid) && gone(l.tailer.pid)).toBe(true);
    // Both drained (SIGTERM), rather than stopping at once.
    expect(logged(l.lines, "drained; exiting"), "the tailer's drain").toHaveLength(1);
    expect(l.lines.some((x) => x.includes('"signal":"SIGTERM"') && x.includes('"msg":"shutting down"'))).toBe(
      true,
    );
    expect(l.lines).toContain("start-prod: tailcast-ingest exited (code 0)");
    expect(l.lines).toContain("start-prod: tailcast-tailer-1 exited (code 0)");
  });

  it("passes Ctrl-C on once: a second SIGINT (npm forwards the terminal's too) does not cut the ingest's drain short", async () => {
    const l = await launch();
    // A publish under way, so the ingest's drain lasts until it is answered.
    const held = await heldPublish(Number(new URL(l.ingest.url).port), "prod-held", "held");
    process.kill(l.proc.pid, "SIGINT");
    await l.line(/^start-prod: SIGINT: sending SIGINT to tailcast-ingest, tailcast-tailer-1$/);
    await l.line(/"msg":"draining"/);
    process.kill(l.proc.pid, "SIGINT");
    await l.line(/^start-prod: SIGINT: already stopping; not passed on$/);
    const answer = await held.finish();
    expect(answer.status, answer.body).toBe(201);
    const exit = await l.proc.exited;
    expect(exit, l.lines.join("\n")).toEqual({ code: 0, signal: null });
    expect(l.lines.filter((x) => x.startsWith("start-prod: SIGINT: sending"))).toHaveLength(1);
    expect(l.lines).toContain("start-prod: tailcast-ingest exited (code 0)");
    expect(gone(l.ingest.pid) && gone(l.tailer.pid)).toBe(true);
  });

  it("stops the other process and exits 1 when one dies", async () => {
    const l = await launch();
    process.kill(l.tailer.pid, "SIGKILL");
    const exit = await l.proc.exited;
    expect(exit, l.lines.join("\n")).toEqual({ code: 1, signal: null });
    expect(l.lines).toContain("start-prod: tailcast-tailer-1 exited (signal SIGKILL)");
    expect(l.lines).toContain(
      "start-prod: tailcast-tailer-1 exited without being asked: sending SIGTERM to tailcast-ingest",
    );
    // The ingest drained and ended on its own: not killed.
    expect(l.lines).toContain("start-prod: tailcast-ingest exited (code 0)");
    expect(gone(l.ingest.pid)).toBe(true);
  });
});
