/**
 * infra/pm2/ecosystem.config.cjs with pm2 from npm, a private PM2_HOME and bundles built for the test:
 * the ingest function and three tailers start against the test database, every tailer delivers, and a
 * rolling `pm2 reload` of the tailers while a publisher keeps publishing leaves each TypeScript client
 * (both transports) with exactly the acknowledged messages — nothing lost, nothing twice, in order.
 * TAILCAST_METRICS_PORT is set, as in production: each process serves /metrics on its own port.
 * `pm2 kill` ends it, and no pm2 process is left behind.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";
import { type Client, createClient, type Envelope, type Subscribed } from "../../client/index.ts";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import { freePort } from "../../infra/devdb/launcher.ts";
import { type BuiltBundles, buildToTemp } from "../helpers/bundles.ts";
import {
  type IngestEndpoint,
  pollUntil,
  publishOne,
  type Receipt,
  receiptsOf,
  runPublisher,
  sequenceProblems,
} from "../helpers/guarantees.ts";
import { parseExposition } from "../helpers/metrics-text.ts";
import { freePortRun } from "../helpers/ports.ts";
import { componentEnv, testDbName } from "../helpers/stack.ts";

const PM2_BIN = join(dirname(createRequire(import.meta.url).resolve("pm2/package.json")), "bin", "pm2");
const ECOSYSTEM = join(REPO_ROOT, "infra", "pm2", "ecosystem.config.cjs");
const TAILERS = 3;
const CHANNELS = ["pm2-a", "pm2-b"];

const db = testDbName(import.meta.url);
const pm2Home = mkdtempSync(join(tmpdir(), "tailcast-pm2-"));
let bundles: BuiltBundles;
let env: Record<string, string>;
let ingest: IngestEndpoint;
let tailerUrls: string[] = [];
let metricsBase: number;

function pm2(...args: string[]): Promise<string> {
  return promisify(execFile)(process.execPath, [PM2_BIN, ...args], { env, maxBuffer: 16 << 20 }).then(
    (r) => r.stdout,
  );
}

interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { status: string; exec_mode: string; restart_time: number; namespace: string };
}
const processes = async () => JSON.parse(await pm2("jlist")) as Pm2Process[];

/** The daemon, if one runs under our PM2_HOME. */
function daemonPid(): number | undefined {
  try {
    return Number(readFileSync(join(pm2Home, "pm2.pid"), "utf8"));
  } catch {
    return undefined;
  }
}
/** Running, as opposed to gone or a zombie (exited, waiting for a parent — here init — to reap it). */
const running = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

// If the test process ends without afterAll (a crash), the daemon still goes: it is detached from us.
const killDaemonOnExit = () => {
  if (daemonPid() === undefined) return;
  try {
    execFileSync(process.execPath, [PM2_BIN, "kill"], { env, stdio: "ignore" });
  } catch {
    // exiting anyway; nothing else to try
  }
};

beforeAll(async () => {
  bundles = await buildToTemp();
  const ports = await Promise.all(Array.from({ length: TAILERS + 1 }, () => freePort()));
  const [ingestPort, ...tailerPorts] = ports as [number, ...number[]];
  // One metrics port per process, consecutive from this one (infra/build/processes.cjs).
  metricsBase = await freePortRun(TAILERS + 1);
  env = {
    PATH: process.env.PATH ?? "",
    HOME: pm2Home,
    PM2_HOME: pm2Home,
    ...componentEnv({ db }),
    HOST: "127.0.0.1",
    TAILCAST_DIST: bundles.outDir,
    TAILCAST_INGEST_PORT: String(ingestPort),
    TAILCAST_TAILER_PORTS: tailerPorts.join(","),
    TAILCAST_METRICS_PORT: String(metricsBase),
    // A drain, where the tailer drains on stop, hands clients over quickly here.
    TAILCAST_DRAIN_WINDOW_MS: "300",
    TAILCAST_DRAIN_TIMEOUT_MS: "5000",
  };
  process.once("exit", killDaemonOnExit);
  await pm2("start", ECOSYSTEM);
  ingest = { url: `http://127.0.0.1:${ingestPort}` };
  tailerUrls = tailerPorts.map((p) => `http://127.0.0.1:${p}`);
});

afterAll(async () => {
  const daemon = daemonPid();
  const apps = daemon === undefined ? [] : (await processes()).map((p) => p.pid);
  if (daemon !== undefined) await pm2("kill");
  process.removeListener("exit", killDaemonOnExit);
  bundles?.remove();
  rmSync(pm2Home, { recursive: true, force: true });
  for (const pid of [daemon, ...apps]) {
    if (pid !== undefined) expect(running(pid), `pid ${pid} (pm2 daemon or app) is gone`).toBe(false);
  }
});

interface Subscriber {
  client: Client;
  name: string;
  received: Map<string, Envelope[]>;
  first: Map<string, Subscribed>;
  nodes: string[];
  problems: unknown[];
  /** Resolves once `done()` holds, checked on every subscribe ack and message; rejects after a while. */
  until(what: string, done: () => boolean, timeoutMs?: number): Promise<void>;
}

/** A TypeScript client that starts on tailer `start` and knows every tailer to move to. */
function subscriber(start: number, transport: "ws" | "socket.io"): Subscriber {
  const urls = [...tailerUrls.slice(start), ...tailerUrls.slice(0, start)];
  const client = createClient({
    urls,
    transport,
    pickUrl: "ordered",
    WebSocket: WsWebSocket as unknown as typeof WebSocket,
    backoff: { initialMs: 50, maxMs: 500 },
    timeoutMs: 5000,
  });
  const checks = new Set<() => void>();
  const name = `${transport} from tailer ${start + 1}`;
  const s: Subscriber = {
    client,
    name,
    received: new Map(CHANNELS.map((c) => [c, []])),
    first: new Map(),
    nodes: [],
    problems: [],
    until: (what, done, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const check = () => {
          if (!done()) return;
          checks.delete(check);
          clearTimeout(timer);
          resolve();
        };
        checks.add(check);
        check();
      }),
  };
  const changed = () => {
    for (const check of [...checks]) check();
  };
  client.on("node", (url) => s.nodes.push(url));
  client.on("subscribed", (sub) => {
    if (!s.first.has(sub.channel)) s.first.set(sub.channel, sub);
    changed();
  });
  client.on("gap", (gap) => s.problems.push({ gap }));
  client.on("error", (error) => s.problems.push({ error }));
  for (const channel of CHANNELS) {
    client.subscribe(channel, (m) => {
      s.received.get(channel)?.push(m);
      changed();
    });
  }
  return s;
}

describe("pm2 ecosystem", () => {
  const subs: Subscriber[] = [];
  afterAll(() => {
    for (const s of subs) s.client.close();
  });

  it("runs the ingest function and one forked tailer per port, each from its bundle and ready", async () => {
    const list = await processes();
    expect(list.map((p) => p.name).sort()).toEqual([
      "tailcast-ingest",
      ...Array.from({ length: TAILERS }, (_, i) => `tailcast-tailer-${i + 1}`),
    ]);
    for (const p of list)
      expect(p.pm2_env, p.name).toMatchObject({ status: "online", exec_mode: "fork_mode" });
    // wait_ready: `pm2 start` returned once each process said it was ready (shared/supervisor.ts).
    for (const url of [ingest.url, ...tailerUrls]) {
      expect((await fetch(`${url}/readyz`)).status, url).toBe(200);
    }
  });

  it("serves each process's /metrics on a port of its own: the ingest's on TAILCAST_METRICS_PORT, tailer n's at +n", async () => {
    for (let i = 0; i <= TAILERS; i++) {
      const url = `http://127.0.0.1:${metricsBase + i}/metrics`;
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      const text = await res.text();
      parseExposition(text); // Prometheus's text format, or it throws
      const declares = (metric: string) => new RegExp(`^# TYPE ${metric} `, "m").test(text);
      expect(declares("tailcast_tailer_ready"), `${url} is a tailer's`).toBe(i > 0);
      expect(declares("tailcast_messages_appended_total"), `${url} is the ingest's`).toBe(i === 0);
    }
    // Nothing crash-looped on a port taken by another process.
    for (const p of await processes()) expect(p.pm2_env.restart_time, p.name).toBe(0);
  });

  it("delivers through every tailer, and a rolling reload while publishing loses and repeats nothing", async () => {
    for (let i = 0; i < TAILERS; i++) subs.push(subscriber(i, "ws"), subscriber(i, "socket.io"));
    await Promise.all(subs.map((s) => s.until("its subscriptions", () => s.first.size === CHANNELS.length)));
    // Every tailer holds clients of its own.
    expect(new Set(subs.map((s) => s.nodes[0]))).toEqual(new Set(tailerUrls));

    const receipts: Receipt[] = [];
    const stop = new AbortController();
    const publishing = runPublisher({
      name: "pm2",
      ingests: [ingest],
      channels: CHANNELS,
      batchSize: 4,
      singleEvery: 3,
      pauseMs: 5,
      into: receipts,
      signal: stop.signal,
    });
    const received = (s: Subscriber) => CHANNELS.reduce((n, c) => n + (s.received.get(c)?.length ?? 0), 0);
    const pidsBefore = new Map((await processes()).map((p) => [p.name, p.pid]));
    try {
      await Promise.all(subs.map((s) => s.until("10 messages", () => received(s) >= 10)));
      const before = receipts.length;
      const out = await pm2("reload", "tailcast-tailers", "--parallel", "1");
      expect(out).toContain("reloadProcessId");
      // Publishing went on through the reload, and goes on after it.
      expect(receipts.length).toBeGreaterThan(before);
      const afterReload = receipts.length;
      await pollUntil("more acknowledged after the reload", async () =>
        receipts.length >= afterReload + 40 ? true : undefined,
      );
    } finally {
      stop.abort();
      await publishing;
    }

    // Every tailer is a new process, and every client moved at least once.
    for (const p of await processes()) {
      if (!p.name.startsWith("tailcast-tailer")) continue;
      expect(p.pm2_env, p.name).toMatchObject({ status: "online", restart_time: 1 });
      expect(p.pid, p.name).not.toBe(pidsBefore.get(p.name));
    }
    for (const s of subs) expect(s.nodes.length, s.name).toBeGreaterThan(1);

    // Markers after the publisher stopped: a client holding them holds everything before them.
    const markers = await Promise.all(
      CHANNELS.map((channel) => publishOne(ingest, { channel, data: "end" })),
    );
    receipts.push(...markers);
    const ids = new Set(markers.map((m) => m.id));
    const hasMarkers = (s: Subscriber) =>
      CHANNELS.every((c) => s.received.get(c)?.some((m) => ids.has(m.id)));
    await Promise.all(subs.map((s) => s.until("the markers", () => hasMarkers(s))));
    for (const s of subs) {
      for (const channel of CHANNELS) {
        const from = s.first.get(channel)?.position.offset ?? -1;
        const expected = receiptsOf(receipts, channel).filter((r) => r.offset > from);
        const got = s.received.get(channel) ?? [];
        expect.soft(sequenceProblems(got, expected), `${s.name} on ${channel} (${got.length})`).toEqual([]);
      }
      expect.soft(s.problems, s.name).toEqual([]);
    }
  });
});
