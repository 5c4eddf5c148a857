/**
 * The fleet status (`/status.json`, `/status`) with real processes: two tailers and one ingest process
 * heartbeat into `<bus>_nodes`; either tailer lists all three, with bus figures that match what was
 * published; a stopped node leaves at once, a killed one once its heartbeat expires (the readers'
 * filter, since FerretDB never deletes by TTL); the page needs the operator token unless auth is off.
 */
import { once } from "node:events";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import type { Component } from "../../infra/local/component.ts";
import pkg from "../../package.json" with { type: "json" };
import type { FleetStatus, NodeStatus } from "../../tailer/status.ts";
import { JWT_SECRET, token } from "../helpers/auth.ts";
import { LineLog } from "../helpers/log-lines.ts";
import { publish, startFunctions, startTailer, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const ADMIN_TOKEN = "status-test-admin-token-0123456789";
const HEARTBEAT = { TAILCAST_HEARTBEAT_MS: "300" };
/** Auth on for subscribers (the status page's own rule applies), a short heartbeat. */
const authOn = { ...HEARTBEAT, TAILCAST_AUTH: "on", TAILCAST_JWT_SECRET: JWT_SECRET };

let ingest: Component;
let a: Component; // auth on, TAILCAST_ADMIN_TOKEN set
let b: Component; // auth on, no TAILCAST_ADMIN_TOKEN
const peers: WebSocket[] = [];

beforeAll(async () => {
  ingest = await startFunctions({ db, env: HEARTBEAT });
  [a, b] = await Promise.all([
    startTailer({ db, nodeId: "tailer-a", env: { ...authOn, TAILCAST_ADMIN_TOKEN: ADMIN_TOKEN } }),
    startTailer({ db, nodeId: "tailer-b", env: authOn }),
  ]);
});

afterAll(async () => {
  for (const p of peers) p.terminate();
  await stopAll([a, b, ingest]);
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function status(node: Component = a): Promise<FleetStatus> {
  const res = await fetch(`${node.url}/status.json`, { headers: admin });
  expect(res.status).toBe(200);
  return (await res.json()) as FleetStatus;
}

const byId = (s: FleetStatus, id: string): NodeStatus | undefined => s.nodes.find((n) => n.id === id);
const ids = (s: FleetStatus) => s.nodes.map((n) => n.id);

/** A /ws subscriber on `node`, subscribed to `channels` (answers awaited). */
async function subscriber(node: Component, channels: string[]): Promise<WebSocket> {
  const jwt = await token({ sub: "status-test", channels: ["*"] });
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws?token=${jwt}`);
  peers.push(ws);
  await once(ws, "open");
  const answers = new Set<number>();
  const all = new Promise<void>((resolve) => {
    ws.on("message", (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; id?: number };
      if (frame.type === "subscribed" && typeof frame.id === "number") answers.add(frame.id);
      if (answers.size === channels.length) resolve();
    });
  });
  for (const [i, channel] of channels.entries()) {
    ws.send(JSON.stringify({ type: "subscribe", id: i + 1, channel }));
  }
  await all;
  return ws;
}

describe("/status.json", () => {
  it("lists both tailers and the ingest process, with bus figures consistent with what was published", async () => {
    const receipts: Array<{ offset: number; epoch: string }> = [];
    for (let i = 0; i < 30; i++) {
      const r = await publish(ingest, `status:${i % 3}`, { i });
      expect(r.status).toBe(201);
      receipts.push(r.body as { offset: number; epoch: string });
    }
    const last = receipts.at(-1) as { offset: number; epoch: string };

    // Heartbeats come every 300 ms: wait until both tailers report having delivered the last message.
    await expect
      .poll(
        async () => {
          const s = await status();
          return [byId(s, "tailer-a")?.position?.offset, byId(s, "tailer-b")?.position?.offset];
        },
        { timeout: 15_000 },
      )
      .toEqual([last.offset, last.offset]);

    const s = await status();
    // Without TAILCAST_NODE_ID: named after its host and port (shared/config.ts).
    const functionsId = `functions-${hostname()}-${ingest.port}`;
    expect(ids(s)).toEqual(["tailer-a", "tailer-b", functionsId]);
    expect(s.servedBy).toBe("tailer-a");
    expect(s.nodes.map((n) => [n.role, n.self, n.version])).toEqual([
      ["tailer", true, pkg.version],
      ["tailer", false, pkg.version],
      ["functions", false, pkg.version],
    ]);
    expect(byId(s, "tailer-a")?.url).toBe(a.url);
    expect(byId(s, "tailer-b")?.url).toBe(b.url);
    expect(byId(s, functionsId as string)?.url).toBe(ingest.url);
    for (const n of s.nodes) expect(n.beatAgeMs).toBeLessThan(3 * 300 + 1000);
    for (const id of ["tailer-a", "tailer-b"]) {
      expect(byId(s, id)).toMatchObject({ live: true, gaps: 0, missed: 0, lastError: null });
      const delivery = byId(s, id)?.delivery;
      expect(delivery?.count).toBe(30);
      expect(delivery?.p99Ms).toBeGreaterThanOrEqual(delivery?.p50Ms as number);
    }

    // The bus as stored: the sentinel at offset 0 (nothing evicted yet), then the 30 messages.
    const stored = await withDb(inject("mongodbUri"), async (client) => {
      const bus = client.db(db).collection<{ offset: number; ts: Date }>("bus");
      return {
        oldest: await bus.findOne({ offset: 0 }),
        newest: await bus.findOne({ offset: last.offset }),
      };
    });
    expect(s.bus).toMatchObject({
      epoch: last.epoch,
      oldestOffset: 0,
      newestOffset: last.offset,
      retainedMessages: last.offset + 1,
      oldestTs: stored.oldest?.ts.toISOString(),
      newestTs: stored.newest?.ts.toISOString(),
    });
    const bus = s.bus as NonNullable<FleetStatus["bus"]>;
    expect(bus.coveredSeconds).toBe(
      ((stored.newest?.ts.getTime() ?? 0) - (stored.oldest?.ts.getTime() ?? 0)) / 1000,
    );
    // All 30 were published within the node's last minute, so its rate is positive, and the retention
    // is what the retained messages last at that rate.
    expect(bus.publishRate).toBeGreaterThan(0);
    expect(bus.retentionSeconds).toBeCloseTo(
      (bus.retainedMessages as number) / (bus.publishRate as number),
      6,
    );
    expect([s.busError, s.nodesError]).toEqual([null, null]);
  });

  it("shows each tailer's connections and subscriptions", async () => {
    await subscriber(b, ["status:0", "status:1"]);
    await subscriber(b, ["status:2"]);
    await expect
      .poll(
        async () => {
          const s = await status();
          const n = byId(s, "tailer-b");
          return {
            node: [n?.connections, n?.subscriptions],
            fleet: [s.fleet.connections, s.fleet.subscriptions],
          };
        },
        { timeout: 15_000 },
      )
      .toEqual({ node: [2, 3], fleet: [2, 3] });
  });

  it("refuses without the operator token: 401 with a wrong or missing one, 403 where none is configured", async () => {
    for (const path of ["/status", "/status.json"]) {
      const refused: Array<Record<string, string>> = [
        {},
        { authorization: "Bearer wrong-token-0123456789" },
        { authorization: ADMIN_TOKEN }, // not a Bearer header
      ];
      for (const headers of refused) {
        const res = await fetch(`${a.url}${path}`, { headers });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe("Bearer");
        expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
      }
      const closed = await fetch(`${b.url}${path}`, { headers: admin });
      expect(closed.status).toBe(403);
      const body = (await closed.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("forbidden");
      expect(body.error.message).toContain("TAILCAST_ADMIN_TOKEN");
    }
    const page = await fetch(`${a.url}/status`, { headers: admin });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("tailcast fleet status");
  });

  it("lists an ingest process under its TAILCAST_NODE_ID, the name its log lines carry", async () => {
    const log = new LineLog();
    const named = await startFunctions({
      db,
      env: { ...HEARTBEAT, TAILCAST_NODE_ID: "ingest-x", TAILCAST_LOG_LEVEL: "info" },
      onLine: log.onLine,
    });
    try {
      await expect.poll(async () => ids(await status()), { timeout: 15_000 }).toContain("ingest-x");
      const s = await status();
      expect(byId(s, "ingest-x")).toMatchObject({ role: "functions", url: named.url });
      // One entry: none under a default name for its port.
      expect(ids(s).filter((id) => id.endsWith(`-${named.port}`))).toEqual([]);
      await expect.poll(() => log.records({ msg: "ingest listening" }).length).toBe(1);
      const lines = log.records({ component: "functions" });
      expect(new Set(lines.map((r) => r.node))).toEqual(new Set(["ingest-x"]));
    } finally {
      await named.stop();
    }
    // A stopping process removes its own entry.
    expect(ids(await status())).not.toContain("ingest-x");
  });

  it("drops a stopped node at once and a killed one when its heartbeat expires", async () => {
    await b.stop();
    // Removed by the stopping node itself, not by expiry: gone at the next read.
    expect(ids(await status())).not.toContain("tailer-b");

    const functionsId = `functions-${hostname()}-${ingest.port}`;
    await ingest.kill("SIGKILL");
    await expect.poll(async () => ids(await status()), { timeout: 15_000 }).toEqual(["tailer-a"]);
    // Dropped by the readers' expiry filter: the dead process's document is still stored. (On MongoDB
    // the TTL monitor deletes it within about a minute; FerretDB never does.)
    if (inject("databaseKind") === "ferretdb") {
      const stored = await withDb(inject("mongodbUri"), (client) =>
        client
          .db(db)
          .collection("bus_nodes")
          .countDocuments({ _id: functionsId as never }),
      );
      expect(stored).toBe(1);
    }
  });
});
