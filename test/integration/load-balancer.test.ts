/**
 * The shipped HAProxy config (infra/lb/haproxy.cfg) with the real haproxy binary in front of three
 * tailer processes; every client knows only the balancer's address. A tailer whose /readyz turns 503
 * gets no new connection (and keeps those it holds); after kill -9 of a tailer, Socket.IO clients
 * (WebSocket, long-polling with the affinity cookie, polling upgraded to WebSocket) and /ws clients
 * reconnect through the balancer to the others and end with exactly the acknowledged sequence; a
 * draining tailer (POST /admin/drain) stops receiving new connections.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import { HAPROXY_TEMPLATE } from "../../infra/lb/haproxy-config.ts";
import type { Component } from "../../infra/local/component.ts";
import { healthcheckScript, preStopScript, runNodeScript } from "../helpers/deploy-commands.ts";
import { pollUntil, publishOne, type Receipt, type Refused, runPublisher } from "../helpers/guarantees.ts";
import { findHaproxy, type Haproxy, startHaproxy } from "../helpers/haproxy.ts";
import { openWs, RecordedTailcastClient, recording, recordingProblems } from "../helpers/lb-clients.ts";
import type { RecordingClient } from "../helpers/recording-client.ts";
import { startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";
import { type StallProxy, startStallProxy } from "../helpers/stall-proxy.ts";

const haproxy = findHaproxy();
const missing = "missing" in haproxy ? haproxy.missing : null;
if (missing) console.warn(`[integration] load balancer tests skipped: ${missing}`);

const ADMIN_TOKEN = "lb-test-admin-token-0123456789abcdef";

/** Connections a tailer holds right now, by transport (its /stats). */
async function held(node: Component): Promise<{ socketio: number; ws: number }> {
  const res = await fetch(`${node.url}/stats`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { clients: number; wsClients: number };
  return { socketio: body.clients, ws: body.wsClients };
}

async function readyz(node: Component): Promise<number> {
  return (await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
}

describe.skipIf(missing !== null)("HAProxy in front of the tailers", () => {
  const db = testDbName(import.meta.url);
  const env = {
    TAILCAST_BUS_MAX_DOCS: "10000",
    TAILCAST_ADMIN_TOKEN: ADMIN_TOKEN,
    TAILCAST_DRAIN_WINDOW_MS: "3000",
    TAILCAST_DRAIN_TIMEOUT_MS: "8000",
  };
  let ingest: Component;
  let a: Component;
  let b: Component;
  let c: Component;
  let dbProxy: StallProxy;
  let lb: Haproxy;
  const closers: Array<{ close(): void }> = [];

  beforeAll(async () => {
    ingest = await startFunctions({ db, env });
    // Tailer c reaches the database through a proxy the test can cut: a running tailer that is not ready.
    dbProxy = await startStallProxy(inject("mongodbUri"));
    [a, b, c] = await Promise.all([
      startTailer({ db, env, nodeId: "lb-a" }),
      startTailer({ db, env, nodeId: "lb-b" }),
      startTailer({ db, env, nodeId: "lb-c", uri: dbProxy.uri }),
    ]);
    const servers = { a, b, c };
    lb = await startHaproxy(
      (haproxy as { path: string }).path,
      Object.entries(servers).map(([name, node]) => ({ name, address: `127.0.0.1:${node.port}` })),
    );
    await Promise.all(Object.keys(servers).map((name) => lb.waitFor(name, "UP")));
  }, 90_000);

  afterAll(async () => {
    for (const x of closers) x.close();
    await lb?.stop();
    await stopAll([ingest, a, b, c]);
    await dbProxy?.close();
  });

  it("accepts the committed config as is (haproxy -c)", () => {
    const out = execFileSync((haproxy as { path: string }).path, ["-c", "-f", HAPROXY_TEMPLATE], {
      encoding: "utf8",
      stdio: "pipe",
    });
    expect(out).toContain("Configuration file is valid");
  });

  it("the images' HEALTHCHECK commands pass against the running components, and fail without them", async () => {
    const tailerCheck = healthcheckScript("infra/docker/tailer.Dockerfile");
    const ingestCheck = healthcheckScript("infra/docker/functions.Dockerfile");
    expect(await runNodeScript(tailerCheck, { PORT: String(a.port) })).toBe(0);
    expect(await runNodeScript(ingestCheck, { PORT: String(ingest.port) })).toBe(0);
    expect(await runNodeScript(tailerCheck, { PORT: String(await freePort()) })).toBe(1);
  });

  /** Runs `connect` while only `target` gets new connections (the others in maintenance, then back as they were). */
  async function onlyOn<T>(target: string, connect: () => Promise<T>): Promise<T> {
    const before = await lb.statuses();
    const others = ["a", "b", "c"].filter((n) => n !== target);
    for (const n of others) await lb.command(`set server tailers/${n} state maint`);
    await Promise.all(others.map((n) => lb.waitFor(n, "MAINT")));
    try {
      return await connect();
    } finally {
      for (const n of others) await lb.command(`set server tailers/${n} state ready`);
      await Promise.all(others.map((n) => lb.waitFor(n, before.get(n) ?? "UP")));
    }
  }

  it("a tailer whose /readyz answers 503 gets no new connection, keeps those it holds, and gets new ones once ready again", async () => {
    const before = await held(c);
    const onC = await onlyOn("c", async () => {
      const s = recording("held-on-c", ["websocket"]);
      closers.push(s);
      await s.connect(lb.url);
      await s.subscribe("rd-1");
      return s;
    });
    expect((await held(c)).socketio).toBe(before.socketio + 1);

    dbProxy.cut();
    await pollUntil("c's /readyz to answer 503", async () => ((await readyz(c)) === 503 ? true : undefined));
    const notReadyAt = Date.now();
    await lb.waitFor("c", "DOWN");
    console.log(`[lb] haproxy marked c DOWN ${Date.now() - notReadyAt} ms after its /readyz answered 503`);
    const [atA, atB, atC] = await Promise.all([held(a), held(b), held(c)]);

    const fresh = [
      recording("new-ws-1", ["websocket"]),
      recording("new-ws-2", ["websocket"]),
      recording("new-poll-1", ["polling"]),
      recording("new-poll-2", ["polling", "websocket"]),
    ];
    closers.push(...fresh);
    for (const s of fresh) {
      await s.connect(lb.url);
      await s.subscribe("rd-2");
    }
    const sockets = await Promise.all([openWs(lb.url), openWs(lb.url)]);
    closers.push(...sockets);

    const [nowA, nowB, nowC] = await Promise.all([held(a), held(b), held(c)]);
    expect(nowC).toEqual(atC);
    expect(nowA.socketio + nowB.socketio - atA.socketio - atB.socketio).toBe(fresh.length);
    expect(nowA.ws + nowB.ws - atA.ws - atB.ws).toBe(sockets.length);
    // Not ready is not closed: the balancer left c's connection alone.
    expect(onC.connected).toBe(true);

    dbProxy.heal();
    await pollUntil("c's /readyz to answer 200", async () => ((await readyz(c)) === 200 ? true : undefined));
    await lb.waitFor("c", "UP");
    // leastconn: c holds the fewest connections of `tailers`, so it gets the next one.
    const back = await openWs(lb.url);
    closers.push(back);
    expect((await held(c)).ws).toBe(nowC.ws + 1);

    for (const x of [onC, ...fresh, ...sockets, back]) x.close();
  }, 90_000);

  it("after kill -9 of a tailer every client reconnects through the balancer to another and resumes with nothing lost or doubled", async () => {
    const channels = ["lb-1", "lb-2"];
    const subscribeAll = async (s: RecordingClient) => {
      await s.connect(lb.url);
      for (const ch of channels) await s.subscribe(ch);
      return s;
    };
    // Every kind of client is on a when it dies.
    const onA = await onlyOn("a", async () => {
      const recorders = await Promise.all([
        subscribeAll(recording("a-websocket", ["websocket"])),
        subscribeAll(recording("a-polling", ["polling"])),
        subscribeAll(recording("a-polling-upgrade", ["polling", "websocket"])),
      ]);
      const tailcast = [
        new RecordedTailcastClient("a-tailcast-ws", lb.url, "ws"),
        new RecordedTailcastClient("a-tailcast-socketio", lb.url, "socket.io"),
      ];
      for (const t of tailcast) await Promise.all(channels.map((ch) => t.subscribe(ch)));
      return { recorders, tailcast };
    });
    expect(await held(a)).toEqual({ socketio: 3 + 1, ws: 1 });
    // Long-polling clients spread over all three: each session must stay on its node (affinity).
    const spread = await Promise.all(
      Array.from({ length: 4 }, (_, i) => subscribeAll(recording(`spread-polling-${i}`, ["polling"]))),
    );
    const recorders = [...onA.recorders, ...spread];
    closers.push(...recorders, ...onA.tailcast);

    const receipts: Receipt[] = [];
    const refused: Refused[] = [];
    const stop = new AbortController();
    const publishing = runPublisher({
      name: "lb",
      ingests: [ingest],
      channels,
      batchSize: 5,
      singleEvery: 3,
      pauseMs: 10,
      into: receipts,
      refused,
      signal: stop.signal,
    });
    await Promise.all(
      recorders.map((s) => s.waitUntil("traffic before the crash", () => s.received.length >= 20, 30_000)),
    );

    // A recording client resumes by hand, through the balancer, once its connection drops (unless
    // the test closed it).
    const resumed = new Map<RecordingClient, Promise<string>>();
    for (const s of recorders) {
      resumed.set(
        s,
        s.disconnected.then(async (reason) => {
          if (reason !== "io client disconnect") await s.resume(lb.url);
          return reason;
        }),
      );
    }
    const killedAt = Date.now();
    await a.kill("SIGKILL");
    await Promise.all(onA.recorders.map((s) => resumed.get(s)));
    await pollUntil(
      "the tailcast clients to be subscribed again",
      async () => (onA.tailcast.every((t) => t.client.state === "connected") ? true : undefined),
      30_000,
    );
    await lb.waitFor("a", "DOWN");
    console.log(
      `[lb] clients of the killed tailer resumed through haproxy within ${Date.now() - killedAt} ms`,
    );

    // Publishing goes on through the seam; then markers, after which everyone has everything.
    const more = receipts.length + 100;
    await pollUntil("100 more acknowledged after the failover", async () =>
      receipts.length >= more ? true : undefined,
    );
    stop.abort();
    await publishing;
    const markers = await Promise.all(
      channels.map((channel) => publishOne(ingest, { channel, data: "end" })),
    );
    receipts.push(...markers);
    const markerIds = markers.map((m) => m.id);
    await Promise.all(recorders.map((s) => s.waitForIds(markerIds, 30_000)));
    await pollUntil("the markers at the tailcast clients", async () =>
      onA.tailcast.every((t) => markerIds.every((id) => t.ids().has(id))) ? true : undefined,
    );

    expect(refused).toEqual([]);
    console.log(
      `[lb] ${receipts.length} messages acknowledged; ${recorders.length + onA.tailcast.length} clients compared`,
    );
    for (const s of recorders) expect.soft(recordingProblems(s, receipts), s.name).toEqual([]);
    for (const t of onA.tailcast) expect.soft(t.problems(receipts), t.name).toEqual([]);
    for (const s of onA.recorders) {
      expect(await resumed.get(s), s.name).toMatch(/transport (close|error)/);
      expect(s.acks.length, `${s.name} subscribed again`).toBe(2 * channels.length);
    }
    // Every client is held by b or c now.
    const [atB, atC] = await Promise.all([held(b), held(c)]);
    expect(atB.socketio + atC.socketio).toBe(recorders.length + 1);
    expect(atB.ws + atC.ws).toBe(1);

    for (const x of [...recorders, ...onA.tailcast]) x.close();
    // Every resume has settled, and none failed.
    await Promise.all(resumed.values());
  }, 120_000);

  it("a draining tailer (POST /admin/drain) stops receiving new connections", async () => {
    // A client that keeps b draining for a while (it does not move when told to).
    const onB = await onlyOn("b", () => openWs(lb.url));
    closers.push(onB);
    // Drain is served by the tailer (README "Drain"); a build without it says which names it lacks.
    const anonymous = await fetch(`${b.url}/admin/drain`, { method: "POST" });
    expect(
      anonymous.status,
      "POST /admin/drain (TAILCAST_ADMIN_TOKEN, TAILCAST_DRAIN_WINDOW_MS, TAILCAST_DRAIN_TIMEOUT_MS) is missing from this tailer",
    ).not.toBe(404);
    expect([401, 403]).toContain(anonymous.status);
    // Started the way Kubernetes starts it: the tailer Deployment's preStop command.
    expect(
      await runNodeScript(preStopScript("tailcast-tailer"), {
        PORT: String(b.port),
        TAILCAST_ADMIN_TOKEN: ADMIN_TOKEN,
      }),
    ).toBe(0);
    // Not ready while it drains; it may also have finished and exited (refused) by the time we look.
    await pollUntil("b's /readyz to answer 503", async () =>
      (await readyz(b).catch(() => 503)) === 503 ? true : undefined,
    );
    await lb.waitFor("b", "DOWN");
    const atC = await held(c);
    const fresh = [recording("drain-ws", ["websocket"]), recording("drain-poll", ["polling"])];
    closers.push(...fresh);
    for (const s of fresh) await s.connect(lb.url);
    const socket = await openWs(lb.url);
    closers.push(socket);
    expect(await held(c)).toEqual({ socketio: atC.socketio + 2, ws: atC.ws + 1 });
  }, 60_000);
});
