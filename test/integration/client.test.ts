/**
 * The tailcast client against real tailer processes, over both transports: failover when the node it
 * is on dies (every acknowledged message exactly once, in order), and honest gaps (G4, G5).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";
import type { Client, ClientEvents, Envelope, TransportName } from "../../client/index.ts";
import { createClient } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import { publish, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
let ingest: Component;
const components: Component[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  ingest = await startFunctions({ db });
});

// Each test stops what it started: idle tailers still poll the bus, and on the dev database those polls
// would load the machine for the tests that follow.
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopAll(components.splice(0));
});

afterAll(() => stopAll([ingest]));

async function tailers(count: number, opts: { db?: string; env?: Record<string, string> } = {}) {
  const started = await Promise.all(
    Array.from({ length: count }, () => startTailer({ db: opts.db ?? db, env: opts.env ?? {} })),
  );
  components.push(...started);
  return started;
}

function client(transport: TransportName, urls: string[]): Client {
  const c = createClient({
    urls,
    transport,
    // Node 20 has no global WebSocket.
    WebSocket: WsWebSocket as unknown as typeof WebSocket,
    backoff: { initialMs: 50, maxMs: 500 },
    timeoutMs: 5000,
  });
  clients.push(c);
  return c;
}

/** The next `event` whose payload satisfies `match`, with a bounded wait. */
function next<E extends keyof ClientEvents>(
  c: Client,
  event: E,
  match: (...args: Parameters<ClientEvents[E]>) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<Parameters<ClientEvents[E]>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${String(event)} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: Parameters<ClientEvents[E]>) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args);
    };
    const off = c.on(event, listener as ClientEvents[E]);
  });
}

/** Resolves once `check()` is true (polled: some conditions have no event); rejects after a while. */
function waitUntil(check: () => boolean, what: string, timeoutMs = 30_000) {
  return new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

describe.each(["ws", "socket.io"] as const)("client over %s", (transport) => {
  it("moves to the other node when its node is killed, and sees every acknowledged message once, in order", async () => {
    const nodes = await tailers(2);
    const c = client(
      transport,
      nodes.map((n) => n.url),
    );
    const channel = `failover-${transport.replace(".", "")}`;
    const received: Envelope[] = [];
    const gaps: unknown[] = [];
    c.on("gap", (g) => gaps.push(g));
    const nodeUrl = next(c, "node");
    const subscribed = next(c, "subscribed");
    const sub = c.subscribe(channel, (m) => received.push(m));
    const [first] = await nodeUrl;
    await subscribed;
    expect(c.state).toBe("connected");

    const acked: string[] = [];
    let publishing = true;
    // Failures end the loop and fail the test below instead of escaping as unhandled rejections.
    const publisher = (async () => {
      for (let i = 0; publishing; i++) {
        const res = await publish(ingest, channel, { i });
        if (res.status !== 201)
          throw new Error(`publish answered ${res.status}: ${JSON.stringify(res.body)}`);
        acked.push(res.body.id as string);
      }
    })();
    publisher.catch(() => {
      publishing = false;
    });
    await waitUntil(() => received.length >= 10, "messages before the kill");
    const victim = nodes.find((n) => n.url === first) as Component;
    const moved = next(c, "subscribed", (s) => s.url !== first);
    await victim.kill("SIGKILL");
    const [resumed] = await moved;
    expect(resumed.recovered).toBe(true);
    const atMove = acked.length;
    await waitUntil(() => acked.length >= atMove + 20, "messages after the move");
    publishing = false;
    await publisher;
    // One connection delivers in order: a duplicate of anything earlier would arrive before this marker.
    const marker = await publish(ingest, channel, "end");
    acked.push(marker.body.id as string);
    await waitUntil(() => received.some((m) => m.id === marker.body.id), "every acknowledged message");

    expect(received.map((m) => m.id)).toEqual(acked);
    expect(gaps).toEqual([]);
    const last = received.at(-1) as Envelope;
    expect(sub.position).toEqual({ offset: last.offset, epoch: last.epoch });
  });

  it("surfaces a since from another epoch as a gap and carries on live", async () => {
    const [node] = await tailers(1);
    const c = client(transport, [(node as Component).url]);
    const received: Envelope[] = [];
    const gap = next(c, "gap");
    const sub = c.subscribe("gap-epoch", (m) => received.push(m), { since: { offset: 5, epoch: "gone" } });
    const [g] = await gap;
    expect(g).toMatchObject({ channel: "gap-epoch", since: { offset: 5, epoch: "gone" } });
    expect(g.position.epoch).not.toBe("gone");
    expect(sub.position).toEqual(g.position);
    const res = await publish(ingest, "gap-epoch", "after the gap");
    await waitUntil(() => received.length === 1, "the live message");
    expect(received[0]?.id).toBe(res.body.id);

    // After unsubscribe nothing more arrives: a marker on another channel proves the node moved on.
    sub.unsubscribe();
    const markers: Envelope[] = [];
    const subscribed = next(c, "subscribed", (s) => s.channel === "gap-marker");
    c.subscribe("gap-marker", (m) => markers.push(m));
    await subscribed;
    await publish(ingest, "gap-epoch", "after unsubscribe");
    await publish(ingest, "gap-marker", "marker");
    await waitUntil(() => markers.length === 1, "the marker");
    expect(received.map((m) => m.data)).toEqual(["after the gap"]);
  });
});

describe("client on a bus that evicts", () => {
  it("reports a gap when what it missed was evicted (G5)", async () => {
    // Tiny bus and recovery window, so the missed range is in neither.
    const small = `${db}_small`;
    const env = { TAILCAST_BUS_MAX_DOCS: "20", TAILCAST_RECOVERY_WINDOW: "5" };
    const smallIngest = await startFunctions({ db: small, env });
    components.push(smallIngest);
    const [node] = await tailers(1, { db: small, env });
    const url = (node as Component).url;

    const before = client("ws", [url]);
    const subscribed = next(before, "subscribed");
    const sub = before.subscribe("evicted", () => {});
    await subscribed;
    const since = sub.position;
    before.close();
    expect(since).not.toBeNull();
    if (since === null) return;

    for (let i = 0; i < 60; i++) expect((await publish(smallIngest, "filler", i)).status).toBe(201);
    // FerretDB evicts in the background (every second in tests); wait until history says the range is gone.
    const historyUrl = `${smallIngest.url}/v1/channels/evicted/messages?since=${since.offset}&epoch=${since.epoch}`;
    for (const deadline = Date.now() + 30_000; ; ) {
      const body = (await (await fetch(historyUrl)).json()) as { recovered: boolean };
      if (!body.recovered) break;
      if (Date.now() > deadline) throw new Error("the bus never evicted the range");
      await new Promise((r) => setTimeout(r, 100));
    }

    const after = client("ws", [url]);
    const gap = next(after, "gap");
    after.subscribe("evicted", () => {}, { since });
    const [g] = await gap;
    expect(g).toMatchObject({ channel: "evicted", since });
    expect(g.position.offset).toBeGreaterThan(since.offset);
  });
});
