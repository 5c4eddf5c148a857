/**
 * /ws on real tailer processes (README "WebSocket"): frames, fan-out on two nodes, malformed input, limits,
 * recovery with `since`, heartbeats, shutdown, and Socket.IO next to it.
 */
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Component } from "../../infra/local/component.ts";
import type { Envelope } from "../../shared/message.ts";
import type { WsServerFrame } from "../../shared/protocol/ws-frames.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { post, publish, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const HEARTBEAT_MS = 300;
// The subscription-limit test sends more subscribes back to back than the default subscribe rate allows;
// that rate has its own tests (auth-subscribe, session).
const env = { TAILCAST_WS_HEARTBEAT_MS: String(HEARTBEAT_MS), TAILCAST_SUBSCRIBE_RATE: "100000" };
let ingest: Component;
let n1: Component;
let n2: Component;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  ingest = await startFunctions({ db });
  [n1, n2] = await Promise.all([
    startTailer({ db, nodeId: "n1", env }),
    startTailer({ db, nodeId: "n2", env }),
  ]);
});

afterAll(async () => {
  for (const c of open) c.close();
  await stopAll([ingest, n1, n2]);
});

type Reply = Exclude<WsServerFrame, { type: "message" }>;
type MessageFrame = Envelope & { type: "message" };

interface Peer {
  ws: WebSocket;
  frames: WsServerFrame[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with `pick()`'s first defined result, re-checked on every frame; rejects after a while. */
  until<T>(pick: () => T | undefined, what?: string): Promise<T>;
  request(frame: Record<string, unknown>): Promise<Reply>;
  subscribe(channel: string, since?: { offset: number; epoch: string }): Promise<Reply>;
  messages(channel: string): MessageFrame[];
  /** Sends raw data and resolves with the next frame the node answers with. */
  raw(data: string | Buffer, binary?: boolean): Promise<WsServerFrame>;
}

let nextId = 1;

async function connect(node: Component, options: WebSocket.ClientOptions = {}): Promise<Peer> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws`, options);
  open.push(ws);
  const frames: WsServerFrame[] = [];
  const waiters = new Set<() => void>();
  ws.on("message", (data) => {
    frames.push(JSON.parse(String(data)) as WsServerFrame);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await once(ws, "open");
  const until = <T>(pick: () => T | undefined, what = "frame"): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = pick();
        if (found === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(frames).slice(0, 2000)}`));
      }, 15_000);
      waiters.add(check);
      check();
    });
  const request = (frame: Record<string, unknown>) => {
    ws.send(JSON.stringify(frame));
    return until(
      () =>
        frames.find(
          (f): f is Reply =>
            f.type !== "message" && f.type !== "gap" && f.type !== "presence_update" && f.id === frame.id,
        ),
      `reply to ${frame.id}`,
    );
  };
  const messages = (channel: string) =>
    frames.filter((f): f is MessageFrame => f.type === "message" && f.channel === channel);
  return {
    ws,
    frames,
    closed,
    until,
    request,
    messages,
    subscribe: (channel, since) => request({ type: "subscribe", id: nextId++, channel, since }),
    raw: (data, binary = false) => {
      const seen = frames.length;
      ws.send(data, { binary });
      return until(() => frames[seen], "reply to raw frame");
    },
  };
}

async function publishAll(channel: string, count: number, from = 0) {
  const acks = [];
  for (let i = from; i < from + count; i++) {
    const res = await publish(ingest, channel, { n: i });
    expect(res.status).toBe(201);
    acks.push(res.body as { id: string; offset: number; epoch: string });
  }
  return acks;
}

describe("/ws", () => {
  it("delivers message frames in bus order to subscribers on both nodes", async () => {
    const [a, b] = await Promise.all([connect(n1), connect(n2)]);
    const ack = await a.subscribe("ws-room");
    expect(ack).toEqual({
      type: "subscribed",
      id: expect.any(Number),
      channel: "ws-room",
      offset: expect.any(Number),
      epoch: expect.any(String),
      recovered: true,
    });
    expect((await b.request({ type: "subscribe", id: "b-1", channel: "ws-room" })).type).toBe("subscribed");
    const acks = await publishAll("ws-room", 20);
    for (const peer of [a, b]) {
      const got = await peer.until(() =>
        peer.messages("ws-room").length >= 20 ? peer.messages("ws-room") : undefined,
      );
      expect(got.map((m) => m.id)).toEqual(acks.map((r) => r.id));
    }
    expect(a.messages("ws-room")[0]).toEqual({
      type: "message",
      id: acks[0]?.id,
      channel: "ws-room",
      event: "message",
      data: { n: 0 },
      offset: acks[0]?.offset,
      epoch: acks[0]?.epoch,
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it("stops delivering a channel after unsubscribe", async () => {
    const p = await connect(n1);
    await p.subscribe("ws-unsub");
    await p.subscribe("ws-unsub-marker");
    await publish(ingest, "ws-unsub", "before");
    await p.until(() => p.messages("ws-unsub")[0]);
    expect(await p.request({ type: "unsubscribe", id: "u1", channel: "ws-unsub" })).toEqual({
      type: "unsubscribed",
      id: "u1",
      channel: "ws-unsub",
    });
    await publish(ingest, "ws-unsub", "after");
    await publish(ingest, "ws-unsub-marker", "marker");
    await p.until(() => p.messages("ws-unsub-marker")[0]);
    expect(p.messages("ws-unsub").map((m) => m.data)).toEqual(["before"]);
  });

  it("answers malformed frames with an error frame and keeps the connection working", async () => {
    const p = await connect(n2);
    const cases: Array<[string | Buffer, boolean, string | number | null, string]> = [
      [Buffer.from([1, 2, 3]), true, null, "invalid_request"],
      ["not json", false, null, "invalid_request"],
      ["[]", false, null, "invalid_request"],
      ["42", false, null, "invalid_request"],
      [JSON.stringify({ type: "nope", id: "x" }), false, "x", "invalid_request"],
      [JSON.stringify({ type: "subscribe", channel: "fine" }), false, null, "invalid_request"],
      [JSON.stringify({ type: "subscribe", id: 7, channel: "../$where" }), false, 7, "invalid_channel"],
      [JSON.stringify({ type: "subscribe", id: 8, channel: "x".repeat(500) }), false, 8, "invalid_channel"],
      [
        JSON.stringify({ type: "subscribe", id: 9, channel: "x", since: { offset: -1 } }),
        false,
        9,
        "invalid_request",
      ],
      [JSON.stringify({ type: "unsubscribe", id: 10 }), false, 10, "invalid_channel"],
    ];
    for (const [data, binary, id, code] of cases) {
      const reply = await p.raw(data, binary);
      expect(reply).toEqual({ type: "error", id, error: { code, message: expect.any(String) } });
    }
    expect((await p.subscribe("ws-still-fine")).type).toBe("subscribed");
    await publish(ingest, "ws-still-fine", "ok");
    expect((await p.until(() => p.messages("ws-still-fine")[0])).data).toBe("ok");
  });

  it("limits the subscriptions one connection holds", async () => {
    const p = await connect(n1);
    for (let i = 0; i < 100; i++) expect((await p.subscribe(`lim-${i}`)).type).toBe("subscribed");
    const refused = await p.subscribe("lim-100");
    expect(refused).toMatchObject({ type: "error", error: { code: "invalid_request" } });
    expect(refused.type === "error" && refused.error.message).toMatch(/at most 100/);
    expect(await p.subscribe("lim-0")).toMatchObject({ type: "subscribed" }); // already held: not a new one
    await p.request({ type: "unsubscribe", id: "free", channel: "lim-1" });
    expect((await p.subscribe("lim-100")).type).toBe("subscribed");
  });

  it("closes a connection that sends a frame over the limit with 1009, and no other", async () => {
    const bystander = await connect(n2);
    await bystander.subscribe("ws-big");
    const big = await connect(n2);
    big.ws.send("x".repeat(64 * 1024 + 1));
    expect((await big.closed).code).toBe(1009);
    await publish(ingest, "ws-big", "still here");
    expect((await bystander.until(() => bystander.messages("ws-big")[0])).data).toBe("still here");
  });

  it("recovers missed messages with since, on the other node, then goes live (G4)", async () => {
    const first = await connect(n1);
    await first.subscribe("ws-rec");
    const [seen] = await publishAll("ws-rec", 1);
    const last = await first.until(() => first.messages("ws-rec")[0]);
    expect(last.id).toBe(seen?.id);
    first.ws.close();
    await first.closed;
    const missed = await publishAll("ws-rec", 5, 1);
    const again = await connect(n2);
    const ack = await again.subscribe("ws-rec", { offset: last.offset, epoch: last.epoch });
    expect(ack).toMatchObject({ type: "subscribed", recovered: true, epoch: last.epoch });
    // What the node had tailed when it answered comes before the ack; the rest arrives live after it.
    const beforeAck = again.frames
      .slice(0, again.frames.indexOf(ack))
      .map((f) => f.type === "message" && f.id);
    expect(beforeAck).toEqual(missed.slice(0, beforeAck.length).map((m) => m.id));
    const [live] = await publishAll("ws-rec", 1, 6);
    await again.until(() => (again.messages("ws-rec").length >= 6 ? true : undefined));
    expect(again.messages("ws-rec").map((m) => m.id)).toEqual([...missed, live].map((m) => m?.id));
  });

  it("replays a range of several pages on both transports, in order, waiting for each page to drain", async () => {
    const start = await publish(ingest, "ws-long", "start");
    const since = { offset: start.body.offset as number, epoch: start.body.epoch as string };
    const ids: string[] = [];
    for (let batch = 0; batch < 12; batch++) {
      const res = await post(`${ingest.url}/v1/messages`, {
        messages: Array.from({ length: 100 }, (_, i) => ({ channel: "ws-long", data: batch * 100 + i })),
      });
      expect(res.status).toBe(201);
      ids.push(...(res.body.results as Array<{ id: string }>).map((r) => r.id));
    }
    const last = ids.at(-1) as string;
    const p = await connect(n1);
    const sio: Subscriber = await connectSubscriber(n2.url);
    open.push(sio);
    // Each node must have tailed the last message before it can replay it: resume once both have it.
    const watchers = await Promise.all([connect(n1), connect(n2)]);
    await Promise.all(watchers.map((w) => w.subscribe("ws-long-marker")));
    await publish(ingest, "ws-long-marker", "tailed");
    await Promise.all(watchers.map((w) => w.until(() => w.messages("ws-long-marker")[0])));
    const [wsAck, sioAck] = await Promise.all([
      p.subscribe("ws-long", since),
      sio.subscribe("ws-long", since),
    ]);
    expect(wsAck).toMatchObject({ type: "subscribed", recovered: true });
    expect(sioAck).toMatchObject({ ok: true, recovered: true });
    await p.until(() => p.messages("ws-long").find((m) => m.id === last), "the last replayed message");
    await sio.waitForIds([last]);
    expect(p.messages("ws-long").map((m) => m.id)).toEqual(ids);
    expect(sio.of("ws-long").map((m) => m.id)).toEqual(ids);
  });

  it("says recovered:false for a since from another epoch, and delivers live messages (G5)", async () => {
    const p = await connect(n1);
    const ack = await p.subscribe("ws-epoch", { offset: 3, epoch: "not-this-bus" });
    expect(ack).toMatchObject({ type: "subscribed", recovered: false });
    expect(ack.type === "subscribed" && ack.epoch).not.toBe("not-this-bus");
    await publish(ingest, "ws-epoch", "live");
    expect((await p.until(() => p.messages("ws-epoch")[0])).data).toBe("live");
  });

  it("drops a peer that stops answering pings, and keeps one that answers", async () => {
    const dead = await connect(n1, { autoPong: false });
    const alive = await connect(n1);
    const { code } = await dead.closed;
    expect(code).toBe(1006); // terminated: no close frame
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect((await alive.subscribe("ws-alive")).type).toBe("subscribed");
  });

  it("serves Socket.IO clients next to /ws and refuses upgrades on other paths", async () => {
    const sio: Subscriber = await connectSubscriber(n2.url);
    open.push(sio);
    expect(await sio.subscribe("ws-mixed")).toMatchObject({ ok: true });
    const p = await connect(n2);
    await p.subscribe("ws-mixed");
    await publish(ingest, "ws-mixed", "both");
    const [fromSio] = await sio.waitFor(1);
    const fromWs = await p.until(() => p.messages("ws-mixed")[0]);
    expect(fromSio?.id).toBe(fromWs.id);

    const stray = new WebSocket(`ws://127.0.0.1:${n2.port}/elsewhere`);
    const [err] = (await once(stray, "error")) as [Error];
    expect(err.message).toMatch(/404/);
  });

  it("closes every /ws client with 1012 'node draining' when the node gets SIGTERM (README \"Drain\")", async () => {
    const node = await startTailer({ db, nodeId: "n3", env });
    try {
      const [a, b] = await Promise.all([connect(node), connect(node)]);
      await a.subscribe("ws-bye");
      const stopped = node.stop();
      expect(await a.closed).toMatchObject({ code: 1012, reason: "node draining" });
      expect(await b.closed).toMatchObject({ code: 1012, reason: "node draining" });
      expect((await stopped).code).toBe(0);
    } finally {
      await node.stop();
    }
  });
});
