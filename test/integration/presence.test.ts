/**
 * Presence across the fleet (README "Presence"): two real tailers and an ingest on one database,
 * real clients on both transports. Each node writes its per-channel counts every interval into
 * `<bus>_presence`; the ingest route and the tailers' `presence` request sum the live documents.
 * Tailer A lists token subjects (TAILCAST_PRESENCE_SUBJECTS=on), tailer B does not.
 */
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket } from "ws";
import { type Client, createClient, RequestRefused } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import type { PresenceSummary } from "../../shared/presence/summary.ts";
import { authEnv, testKey, token } from "../helpers/auth.ts";
import { startFunctions, startTailer, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
const reader = testKey("reader", ["room", "only-b"]);
const narrowKey = testKey("narrow", ["elsewhere"]);
const INTERVAL_MS = 200;
let ingest: Component;
let a: Component;
let b: Component | undefined;
const clients: Client[] = [];
const sockets: Array<Socket | WebSocket> = [];

beforeAll(async () => {
  const env = { ...authEnv([reader, narrowKey]), TAILCAST_PRESENCE_INTERVAL_MS: String(INTERVAL_MS) };
  [ingest, a, b] = await Promise.all([
    startFunctions({ db, env }),
    startTailer({ db, nodeId: "presence-a", env: { ...env, TAILCAST_PRESENCE_SUBJECTS: "on" } }),
    startTailer({ db, nodeId: "presence-b", env }),
  ]);
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of sockets) s.close();
  await stopAll([ingest, a, b]);
});

const tokenFor = (sub: string, channels = ["room", "only-b"]) => token({ sub, channels });

async function tsClient(node: Component, transport: "ws" | "socket.io", sub: string): Promise<Client> {
  const c = createClient({
    urls: [node.url],
    transport,
    token: await tokenFor(sub),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  });
  clients.push(c);
  return c;
}

function subscribed(c: Client, channel: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const off = c.on("subscribed", (s) => {
      if (s.channel !== channel) return;
      off();
      resolve();
    });
    c.on("error", (e) => reject(new Error(`${e.channel}: ${e.error.code}`)));
    c.subscribe(channel, () => {});
  });
}

/** A bare Socket.IO client, subscribed to `channel`. */
async function socketIoSubscriber(node: Component, sub: string, channel: string): Promise<Socket> {
  const s = io(node.url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    auth: { token: await tokenFor(sub) },
  });
  sockets.push(s);
  const ack = (await s.timeout(5000).emitWithAck("subscribe", { channel })) as { ok: boolean };
  expect(ack.ok).toBe(true);
  return s;
}

const get = async (channel: string, authorization?: string) => {
  const res = await fetch(`${ingest.url}/v1/channels/${channel}/presence`, {
    headers: authorization ? { authorization } : {},
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Polls the ingest route until `want` holds, or fails with the last answer after the deadline. */
async function presenceUntil(
  channel: string,
  want: (p: PresenceSummary) => boolean,
  deadlineMs = 15_000,
): Promise<PresenceSummary> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    const { status, body } = await get(channel, `Bearer ${reader.key}`);
    expect(status).toBe(200);
    last = body;
    if (want(body as unknown as PresenceSummary)) return body as unknown as PresenceSummary;
    await new Promise((r) => setTimeout(r, INTERVAL_MS / 2));
  }
  throw new Error(`presence of ${channel} never matched; last ${JSON.stringify(last)}`);
}

describe("presence across two tailers", () => {
  let aliceOnA: Client;
  let carolOnB: Client;
  let bobOnA: Socket;

  it("counts subscribers on both nodes, through the ingest and through either transport of either node", async () => {
    aliceOnA = await tsClient(a, "ws", "alice");
    carolOnB = await tsClient(b as Component, "socket.io", "carol");
    await Promise.all([subscribed(aliceOnA, "room"), subscribed(carolOnB, "room")]);
    bobOnA = await socketIoSubscriber(a, "bob", "room");
    await socketIoSubscriber(b as Component, "dave", "room");

    const seen = await presenceUntil("room", (p) => p.subscribers === 4);
    // Subjects come from the node that lists them (A) only.
    expect(seen).toEqual({ channel: "room", subscribers: 4, nodes: 2, subjects: ["alice", "bob"] });
    expect(await aliceOnA.presence("room")).toEqual(seen); // /ws on A
    expect(await carolOnB.presence("room")).toEqual(seen); // Socket.IO on B
  });

  it("a client that leaves is gone from the count after the next interval", async () => {
    bobOnA.close();
    const after = await presenceUntil("room", (p) => p.subscribers === 3);
    expect(after).toEqual({ channel: "room", subscribers: 3, nodes: 2, subjects: ["alice"] });
  });

  it("lists no subjects for a channel held only by a node that does not report them", async () => {
    await subscribed(carolOnB, "only-b");
    const seen = await presenceUntil("only-b", (p) => p.subscribers === 1);
    expect(seen).toEqual({ channel: "only-b", subscribers: 1, nodes: 1 });
    expect("subjects" in seen).toBe(false);
  });

  it("refuses presence without a credential, with a forged one, or for a channel the credential does not cover", async () => {
    expect((await get("room")).status).toBe(401);
    const forged = await token({ sub: "mallory", channels: ["*"] }, { secret: "x".repeat(40) });
    expect(await get("room", `Bearer ${forged}`)).toMatchObject({
      status: 401,
      body: { error: { code: "unauthorized" } },
    });
    expect(await get("room", `Bearer ${await tokenFor("eve", ["elsewhere"])}`)).toMatchObject({
      status: 403,
      body: { error: { code: "forbidden" } },
    });
    expect(await get("room", `Bearer ${narrowKey.key}`)).toMatchObject({
      status: 403,
      body: { error: { code: "forbidden" } },
    });
    // A subscriber token that allows the channel reads it, as for history.
    expect(await get("room", `Bearer ${await tokenFor("eve", ["room"])}`)).toMatchObject({
      status: 200,
      body: { channel: "room", subscribers: 3 },
    });
    // On the tailers: the subscribe permission check, on both transports.
    const outsider = createClient({
      urls: [a.url],
      token: await tokenFor("eve", ["elsewhere"]),
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    clients.push(outsider);
    const refusal = await outsider.presence("room").catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(RequestRefused);
    expect((refusal as RequestRefused).code).toBe("forbidden");
    const s = io((b as Component).url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      auth: { token: await tokenFor("eve", ["elsewhere"]) },
    });
    sockets.push(s);
    expect(await s.timeout(5000).emitWithAck("presence", { channel: "room" })).toMatchObject({
      ok: false,
      error: { code: "forbidden" },
    });
    expect(await s.timeout(5000).emitWithAck("presence", { channel: "no spaces" })).toMatchObject({
      ok: false,
      error: { code: "invalid_channel" },
    });
  });

  it("a node that stops takes its documents with it", async () => {
    const countOf = (node: string) =>
      withDb(uri, (c) => c.db(db).collection("bus_presence").countDocuments({ node }));
    expect(await countOf("presence-b")).toBeGreaterThan(0);
    await (b as Component).stop();
    b = undefined;
    expect(await countOf("presence-b")).toBe(0);
    expect((await get("room", `Bearer ${reader.key}`)).body).toEqual({
      channel: "room",
      subscribers: 1,
      nodes: 1,
      subjects: ["alice"],
    });
    expect(await aliceOnA.presence("only-b")).toEqual({ channel: "only-b", subscribers: 0, nodes: 0 });
  });
});
