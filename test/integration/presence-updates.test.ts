/**
 * Presence updates (README "Presence updates") across two real tailers on one database, with real
 * clients on both transports: a subscribe with `presence: true` has the channel's fleet-wide presence
 * pushed to the connection — the whole summary first, then each change with the subjects that joined and
 * left — and a subscribe without it gets none. Both tailers list token subjects.
 */
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type Client, createClient, type PresenceUpdate } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import { authEnv, testKey, token } from "../helpers/auth.ts";
import { startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const INTERVAL_MS = 200;
let a: Component;
let b: Component;
const clients: Client[] = [];
const sockets: Array<Socket | WebSocket> = [];

beforeAll(async () => {
  const env = {
    ...authEnv([testKey("unused", ["room"])]),
    TAILCAST_PRESENCE_INTERVAL_MS: String(INTERVAL_MS),
    TAILCAST_PRESENCE_SUBJECTS: "on",
  };
  [a, b] = await Promise.all([
    startTailer({ db, nodeId: "updates-a", env }),
    startTailer({ db, nodeId: "updates-b", env }),
  ]);
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of sockets) s.close();
  await stopAll([a, b]);
});

const tokenFor = (sub: string) => token({ sub, channels: ["room"] });

/** Updates as they arrive, and a wait for the first one that satisfies a condition. */
class Updates {
  readonly all: PresenceUpdate[] = [];
  readonly #waiters = new Set<() => void>();
  push = (update: PresenceUpdate) => {
    this.all.push(update);
    for (const w of this.#waiters) w();
  };
  /** The first update from index `from` on that satisfies `want`. */
  until(want: (u: PresenceUpdate) => boolean, what: string, from = 0): Promise<PresenceUpdate> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no update ${what}; got ${JSON.stringify(this.all)}`));
      }, 15_000);
      const check = () => {
        const found = this.all.slice(from).find(want);
        if (found === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(found);
      };
      this.#waiters.add(check);
      check();
    });
  }
  /** Subjects that joined (or left) over every update after the first. */
  named(key: "joined" | "left"): string[] {
    return [...new Set(this.all.slice(1).flatMap((u) => u[key] ?? []))].sort();
  }
}

/** A raw /ws connection: its frames, and a request that resolves with the reply to it. */
async function rawWs(node: Component, sub: string) {
  const ws = new WebSocket(`${node.url.replace(/^http/, "ws")}/ws?token=${await tokenFor(sub)}`);
  sockets.push(ws);
  const frames: Array<Record<string, unknown>> = [];
  const replies = new Map<number, (frame: Record<string, unknown>) => void>();
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    frames.push(frame);
    if (typeof frame.id === "number") replies.get(frame.id)?.(frame);
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let nextId = 1;
  const request = (frame: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = nextId++;
      replies.set(id, resolve);
      ws.send(JSON.stringify({ ...frame, id }));
    });
  return { frames, request };
}

describe("presence updates across two tailers", () => {
  const alice = new Updates(); // TypeScript client on A, /ws
  const bob = new Updates(); // bare Socket.IO client on B
  let carol: Awaited<ReturnType<typeof rawWs>>; // bare /ws client on B, without presence
  let bobSocket: Socket;
  let carolWs: WebSocket;

  it("pushes the whole summary first, then every change across both nodes with who joined", async () => {
    const c = createClient({
      urls: [a.url],
      token: await tokenFor("alice"),
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    clients.push(c);
    c.on("presence", alice.push);
    c.subscribe("room", () => {}, { presence: true });
    // Its own subscription, once A has written it.
    expect(await alice.until((u) => u.subscribers === 1, "counting alice")).toEqual({
      channel: "room",
      subscribers: 1,
      nodes: 1,
      subjects: ["alice"],
    });

    bobSocket = io(b.url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      auth: { token: await tokenFor("bob") },
    });
    sockets.push(bobSocket);
    bobSocket.on("tailcast:presence", bob.push);
    const ack = await bobSocket.timeout(5000).emitWithAck("subscribe", { channel: "room", presence: true });
    expect(ack).toMatchObject({ ok: true, channel: "room" });
    carol = await rawWs(b, "carol");
    expect(await carol.request({ type: "subscribe", channel: "room" })).toMatchObject({ type: "subscribed" });
    carolWs = sockets.at(-1) as WebSocket;

    const all = { channel: "room", subscribers: 3, nodes: 2, subjects: ["alice", "bob", "carol"] };
    expect(await alice.until((u) => u.subscribers === 3, "counting three")).toMatchObject(all);
    // A node's documents expire 12 intervals after its last write: a node stalled that long under load
    // drops out and comes back, so the names are checked as included, not as the only ones.
    expect(alice.named("joined")).toEqual(expect.arrayContaining(["bob", "carol"]));
    expect(await bob.until((u) => u.subscribers === 3, "counting three")).toMatchObject(all);
    // Bob's first update is a whole summary: nothing joined or left before it, for him.
    expect(bob.all[0]).not.toHaveProperty("joined");
  });

  it("pushes nothing to a connection that did not ask", async () => {
    // Bob, on the same node, was told of carol; a reply to carol now comes after anything B sent her.
    expect(await carol.request({ type: "presence", channel: "room" })).toMatchObject({ subscribers: 3 });
    expect(carol.frames.filter((f) => f.type === "presence_update")).toEqual([]);
  });

  it("tells both watchers who left, on either node", async () => {
    // Only updates after the leave count: alice also saw two subscribers before carol joined.
    const [aliceFrom, bobFrom] = [alice.all.length, bob.all.length];
    carolWs.close();
    const after = { channel: "room", subscribers: 2, nodes: 2, subjects: ["alice", "bob"] };
    expect(await alice.until((u) => u.subscribers === 2, "after carol left", aliceFrom)).toMatchObject(after);
    expect(await bob.until((u) => u.subscribers === 2, "after carol left", bobFrom)).toMatchObject(after);
    expect(alice.named("left")).toContain("carol");
    expect(bob.named("left")).toContain("carol");
    // What each node reads for its watchers: the one channel watched there.
    for (const node of [a, b]) {
      const stats = (await (await fetch(`${node.url}/stats`)).json()) as { presence: unknown };
      expect(stats.presence).toEqual({ channels: 1, watchedChannels: 1 });
    }
  });

  it("follows a TypeScript client to another node: the new node starts with a whole summary", async () => {
    const c3 = await startTailer({
      db,
      nodeId: "updates-c",
      env: {
        ...authEnv([testKey("unused", ["room"])]),
        TAILCAST_PRESENCE_INTERVAL_MS: String(INTERVAL_MS),
        TAILCAST_PRESENCE_SUBJECTS: "on",
      },
    });
    const erin = new Updates();
    const c = createClient({
      urls: [c3.url, b.url],
      pickUrl: "ordered",
      transport: "socket.io",
      token: await tokenFor("erin"),
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    clients.push(c);
    const nodes: string[] = [];
    c.on("node", (url) => nodes.push(url));
    c.on("presence", erin.push);
    c.subscribe("room", () => {}, { presence: true });
    await erin.until((u) => u.subscribers === 3 && u.nodes === 3, "erin counted on the third node");
    const before = erin.all.length;
    await c3.stop(); // its documents go with it; the client moves to B and subscribes there again
    const moved = await erin.until((u) => u.subscribers === 3 && u.nodes === 2, "erin counted on B", before);
    expect(nodes).toEqual([c3.url, b.url]);
    expect(moved.subjects).toEqual(["alice", "bob", "erin"]);
  });

  it("refuses a presence flag that is not a boolean, on both transports", async () => {
    const ws = await rawWs(a, "dave");
    expect(await ws.request({ type: "subscribe", channel: "room", presence: "yes" })).toMatchObject({
      type: "error",
      error: { code: "invalid_request" },
    });
    expect(
      await bobSocket.timeout(5000).emitWithAck("subscribe", { channel: "room", presence: 1 }),
    ).toMatchObject({ ok: false, error: { code: "invalid_request" } });
  });
});
