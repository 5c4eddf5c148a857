/**
 * POST /admin/drain and what a draining node answers (README "Drain"): the token is required (403 when
 * the node has none configured, 401 for a missing or forged one); once draining, /readyz is 503
 * `node_draining`, /stats shows the drain, connected clients are told to move (/ws 1012, Socket.IO
 * `tailcast:draining` then a server disconnect), a new connection is refused with the same signal on
 * both transports and the TypeScript client goes straight to the other node; then the process exits 0.
 */

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Component } from "../../infra/local/component.ts";
import { ClientFleet } from "../helpers/client-fleet.ts";
import { startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const TOKEN = `adm-${randomBytes(16).toString("hex")}`;
// Long enough for every check below to run while the node drains; the test then waits for its exit.
const WINDOW_MS = 6000;
let guarded: Component;
let open: Component;
const fleets: ClientFleet[] = [];

beforeAll(async () => {
  [guarded, open] = await Promise.all([
    startTailer({
      db,
      nodeId: "guarded",
      env: {
        TAILCAST_ADMIN_TOKEN: TOKEN,
        TAILCAST_DRAIN_WINDOW_MS: String(WINDOW_MS),
        TAILCAST_DRAIN_TIMEOUT_MS: "20000",
      },
    }),
    startTailer({ db, nodeId: "open" }),
  ]);
});

afterAll(async () => {
  for (const f of fleets) f.close();
  await stopAll([guarded, open]);
});

async function drainRequest(node: Component, authorization?: string) {
  const res = await fetch(`${node.url}/admin/drain`, {
    method: "POST",
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function getJson(url: string) {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

function wsConnect(node: Component) {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { ws, closed };
}

function sioConnect(node: Component): Socket {
  return io(node.url, { transports: ["websocket"], reconnection: false, forceNew: true });
}

describe("POST /admin/drain", () => {
  it("is refused with 403 forbidden on a node without TAILCAST_ADMIN_TOKEN, whatever is sent", async () => {
    for (const auth of [undefined, `Bearer ${TOKEN}`]) {
      const res = await drainRequest(open, auth);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { code: "forbidden" } });
      expect(String((res.body.error as { message: string }).message)).toContain("TAILCAST_ADMIN_TOKEN");
    }
    expect((await getJson(`${open.url}/readyz`)).status).toBe(200);
  });

  it("is refused with 401 unauthorized for a missing or forged token, and the node keeps serving", async () => {
    for (const auth of [
      undefined,
      "",
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${TOKEN}`,
      TOKEN,
    ]) {
      const res = await drainRequest(guarded, auth);
      expect(res.status, String(auth)).toBe(401);
      expect(res.body).toMatchObject({ error: { code: "unauthorized" } });
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    expect((await getJson(`${guarded.url}/readyz`)).status).toBe(200);
    expect((await getJson(`${guarded.url}/stats`)).body.draining).toBeNull();
  });

  it("drains with the token: 503 readiness, clients told to move, newcomers refused with the signal, exit 0", async () => {
    // Connected before the drain.
    const oldWs = wsConnect(guarded);
    await once(oldWs.ws, "open");
    const oldSio = sioConnect(guarded);
    await new Promise<void>((resolve) => oldSio.once("connect", () => resolve()));
    const signal = new Promise<unknown>((resolve) => oldSio.once("tailcast:draining", resolve));
    const sioGone = new Promise<string>((resolve) => oldSio.once("disconnect", resolve));

    const res = await drainRequest(guarded, `Bearer ${TOKEN}`);
    expect(res).toMatchObject({ status: 202, body: { draining: true } });

    const ready = await getJson(`${guarded.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ error: { code: "node_draining" } });
    expect(ready.headers.get("retry-after")).toBe("1");
    const stats = await getJson(`${guarded.url}/stats`);
    expect(stats.body.draining).toMatchObject({ since: expect.any(String), clients: 2 });
    expect((stats.body.draining as { remaining: number }).remaining).toBeLessThanOrEqual(1);
    // Asking again changes nothing.
    expect(await drainRequest(guarded, `Bearer ${TOKEN}`)).toMatchObject({
      status: 202,
      body: { draining: true },
    });

    // Newcomers: /ws is closed with the signal, a Socket.IO handshake refused with its code.
    const late = wsConnect(guarded);
    expect(await late.closed).toEqual({ code: 1012, reason: "node draining" });
    const lateSio = sioConnect(guarded);
    const refusal = await new Promise<Error & { data?: unknown }>((resolve) =>
      lateSio.once("connect_error", resolve),
    );
    expect(refusal.data).toEqual({ code: "node_draining" });
    lateSio.close();

    // The TypeScript client, pointed at the draining node first, goes straight to the other one.
    // Any backoff would be at least 30 s: the wait below would time out.
    const fleet = new ClientFleet(
      (["ws", "socket.io"] as const).map((transport) => ({
        transport,
        urls: [guarded.url, open.url],
        channels: ["drain-admin"],
      })),
      { timeoutMs: 10_000, backoff: { initialMs: 60_000, maxMs: 60_000 } },
    );
    fleets.push(fleet);
    await fleet.waitAll("both clients on the other node", (m) => m.settledOn(open.url), 20_000);
    for (const m of fleet.members) {
      expect(m.errors).toEqual([]);
      expect(m.subscribedOn.has(guarded.url)).toBe(false);
    }

    // Those connected before were told, each in its turn within the window.
    expect(await oldWs.closed).toEqual({ code: 1012, reason: "node draining" });
    expect(await signal).toEqual({ code: "node_draining" });
    expect(await sioGone).toBe("io server disconnect");

    const exit = await guarded.exited;
    expect(exit.code).toBe(0);
    expect(guarded.output().join("\n")).not.toContain("did not finish before its deadline");
  }, 60_000);
});
