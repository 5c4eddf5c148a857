/**
 * The slow-consumer bound on a real tailer process (README "Slow consumers"): a client that stops reading
 * its socket while about 5 MB/s is published on its channel is cut with the documented signal (/ws close
 * 4008, Socket.IO `tailcast:slow_consumer`), the node's memory stays bounded meanwhile, the other clients
 * of the channel get every message, and the TypeScript client, slowed then cut, resumes with nothing lost
 * and nothing twice, on either transport. The node's log line about each cut names the connection
 * (`connId`, README "Logs").
 *
 * "Stops reading" is real: the client pauses its TCP socket, so the kernel buffers fill and the node's own
 * send buffer grows. A client that reads almost nothing before it pauses keeps the kernel's receive
 * window small, so little of the published volume is absorbed by the kernel.
 */
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { type ClientOptions, createClient, type Envelope } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import { SLOW_CONSUMER_EVENT } from "../../shared/protocol/slow-consumer.ts";
import { pollUntil } from "../helpers/guarantees.ts";
import { LineLog } from "../helpers/log-lines.ts";
import { parseExposition, sampleSum } from "../helpers/metrics-text.ts";
import { RecordingClient } from "../helpers/recording-client.ts";
import { post, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

/**
 * Every Socket.IO socket opened in this file, in order. The TypeScript client opens its socket inside
 * client/socketio-transport.ts and never hands it out; recording what `io()` returns, unchanged, is the
 * least intrusive way to reach its engine.io websocket and stop it reading as the /ws case does.
 */
const ioSockets = vi.hoisted(() => [] as unknown[]);
vi.mock("socket.io-client", async (importOriginal) => {
  const original = await importOriginal<typeof import("socket.io-client")>();
  const io = ((...args: Parameters<typeof original.io>) => {
    const socket = original.io(...args);
    ioSockets.push(socket);
    return socket;
  }) as typeof original.io;
  return { ...original, io, default: io };
});

const db = testDbName(import.meta.url);
const MAX_PENDING = Number(process.env.SLOW_TEST_MAX_PENDING ?? 256 * 1024);
const DATA_BYTES = 16 * 1024;
/** Per publish request: 50 × 16 KiB stays under the ingest's 1 MiB body limit. */
const BATCH = 50;
/** About 5 MB/s: a batch of 50 × 16 KiB every 160 ms. */
const BATCH_EVERY_MS = 160;
const WARM_UP = 8 * 1024 * 1024;
const TAIL_BATCH = 16;
/** Published while a client is paused: far more than the kernel and the bound absorb. */
const SLOW_VOLUME = 32 * 1024 * 1024;

let ingest: Component;
let tailer: Component;
/** The tailer's log, at debug: every connection's `client connected` line, and every cut. */
const tailerLog = new LineLog();
const closers: Array<() => void> = [];

beforeAll(async () => {
  ingest = await startFunctions({
    db,
    env: { TAILCAST_BUS_SIZE_BYTES: String(256 * 1024 * 1024), TAILCAST_PUBLISH_RATE: "100000" },
  });
  tailer = await startTailer({
    db,
    onLine: tailerLog.onLine,
    env: {
      TAILCAST_LOG_LEVEL: "debug",
      TAILCAST_BUS_SIZE_BYTES: String(256 * 1024 * 1024),
      TAILCAST_MAX_PENDING_BYTES: String(MAX_PENDING),
      // Small, so what the node holds on purpose (its recovery window, one tail batch) does not hide
      // what a slow client would make it hold.
      TAILCAST_RECOVERY_WINDOW_BYTES: String(4 * 1024 * 1024),
      TAILCAST_TAIL_BATCH: String(TAIL_BATCH),
      // A small heap, collected often, so RSS follows what the node holds rather than how lazily V8
      // collects garbage (what a slow client would make it hold sits outside the heap, in Buffers).
      NODE_OPTIONS: "--max-old-space-size=96 --max-semi-space-size=2",
    },
  });
});

afterAll(async () => {
  for (const close of closers) close();
  await stopAll([ingest, tailer]);
});

/** The tailer's resident memory, from the kernel. */
function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.match(/(\d+)/)?.[1]) * 1024;
}

interface SlowStats {
  disconnects: number;
  ws: number;
  socketIo: number;
  /** Bytes waiting on the fullest connection right now. */
  largestPendingBytes: number;
}

async function slowStats(): Promise<SlowStats> {
  const res = await fetch(`${tailer.url}/stats`);
  return ((await res.json()) as { slowConsumers: SlowStats }).slowConsumers;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Publishing {
  /** Offsets the ingest acknowledged, in order. */
  offsets: number[];
  bytes: number;
  /** Highest tailer RSS seen while publishing. */
  peakRss: number;
  /** Most bytes /stats saw waiting on one connection while publishing. */
  peakPending: number;
}

/**
 * Publishes `volume` bytes on `channel` at about 5 MB/s; after each batch samples the tailer's RSS and
 * /stats, and hands the stats to `afterBatch`. Stops early when `afterBatch` returns true.
 */
async function publish(
  channel: string,
  volume: number,
  afterBatch: (stats: SlowStats) => boolean = () => false,
): Promise<Publishing> {
  const out: Publishing = { offsets: [], bytes: 0, peakRss: 0, peakPending: 0 };
  const filler = "x".repeat(DATA_BYTES);
  for (let n = 0; out.bytes < volume; ) {
    const started = Date.now();
    const messages = Array.from({ length: BATCH }, () => ({ channel, data: { n: n++, filler } }));
    const res = await post(`${ingest.url}/v1/messages`, { messages });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(201);
    for (const r of res.body.results as Array<{ offset: number }>) out.offsets.push(r.offset);
    out.bytes += BATCH * DATA_BYTES;
    out.peakRss = Math.max(out.peakRss, rssBytes(tailer.pid));
    const stats = await slowStats();
    out.peakPending = Math.max(out.peakPending, stats.largestPendingBytes);
    if (afterBatch(stats) === true) return out;
    await pause(BATCH_EVERY_MS - (Date.now() - started));
  }
  return out;
}

/** A raw /ws subscriber: every message frame's offset, and how it closed. */
async function wsSubscriber(channel: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${tailer.port}/ws`);
  closers.push(() => ws.terminate());
  const offsets: number[] = [];
  let subscribed: () => void = () => {};
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as { type: string; offset?: number };
    if (frame.type === "message") offsets.push(frame.offset as number);
    else if (frame.type === "subscribed") subscribed();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await once(ws, "open");
  await new Promise<void>((resolve) => {
    subscribed = resolve;
    ws.send(JSON.stringify({ type: "subscribe", id: 1, channel }));
  });
  return { ws, offsets, closed };
}

/** A Socket.IO subscriber (websocket transport) that can stop reading its socket. */
async function socketIoSubscriber(channel: string) {
  const c = new RecordingClient(`io-${channel}`, ["message"]);
  closers.push(() => c.close());
  await c.connect(tailer.url);
  await c.subscribe(channel);
  const signals: unknown[] = [];
  c.socket.on(SLOW_CONSUMER_EVENT, (payload: unknown) => signals.push(payload));
  return { client: c, signals, ws: engineWs(c.socket) };
}

/** The `ws` socket under a Socket.IO client: engine.io-client's websocket transport on Node is one. */
function engineWs(socket: Socket): WebSocket {
  return (socket.io.engine as unknown as { transport: { ws: WebSocket } }).transport.ws;
}

async function waitForOffsets(offsets: () => unknown[], count: number, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (offsets().length < count) {
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: ${offsets().length} of ${count} messages; ${JSON.stringify(await slowStats())}`,
      );
    }
    await pause(50);
  }
}

function report(what: string, warm: Publishing, slow: Publishing): void {
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `${what}: ${mb(warm.bytes)} MB published with every client reading, then ${mb(slow.bytes)} MB with one paused; ` +
      `tailer RSS peak ${mb(warm.peakRss)} MB, then ${mb(slow.peakRss)} MB; ` +
      `largest outbound buffer ${(warm.peakPending / 1024).toFixed(0)} KiB, then ${(slow.peakPending / 1024).toFixed(0)} KiB ` +
      `(bound ${(MAX_PENDING / 1024).toFixed(0)} KiB)`,
  );
}

/**
 * What the node may add to its RSS while a paused client is on it, beyond what it held before: the bound
 * itself, one tail batch and the recovery window (both capped above), and the heap's own slack. Without
 * the bound the paused client's share alone is what was published minus what the kernel absorbed.
 */
const RSS_ALLOWANCE = 16 * 1024 * 1024;
/**
 * A connection over the bound is cut at the end of the event loop's turn: one tail batch, delivered in one
 * step, may come on top (README "Slow consumers"), plus the signal.
 */
const FRAME_SLACK = (TAIL_BATCH + 1) * (DATA_BYTES + 1024);

/** A raw /ws client and a Socket.IO client on `channel` that keep reading. */
async function readers(channel: string) {
  const ws = await wsSubscriber(channel);
  const io = await socketIoSubscriber(channel);
  const ioOffsets = () => io.client.of(channel).map((m) => m.offset);
  return {
    /** Resolves once both have exactly `offsets`, in order. */
    async got(offsets: number[]): Promise<void> {
      await waitForOffsets(() => ws.offsets, offsets.length, "reading /ws client");
      expect(ws.offsets).toEqual(offsets);
      await waitForOffsets(ioOffsets, offsets.length, "reading Socket.IO client");
      expect(ioOffsets()).toEqual(offsets);
    },
  };
}

/** The node's Prometheus count of slow-consumer cuts, both transports. */
async function metricCuts(): Promise<number> {
  const text = await (await fetch(`${tailer.url}/metrics`)).text();
  return sampleSum(parseExposition(text), "tailcast_slow_consumer_disconnects_total") ?? 0;
}

/**
 * Publishes SLOW_VOLUME while `slow` does not read; once /stats counts it cut (`cut` reads the count for
 * its transport), it reads again, so it gets what it held and then the signal. Checks the bound held.
 */
async function whilePaused(
  slow: { pause(): void; resume(): void },
  cut: (stats: SlowStats) => number,
  warm: Publishing,
  what: string,
): Promise<Publishing> {
  const before = cut(await slowStats());
  const cutsBefore = await metricCuts();
  slow.pause();
  let resumed = false;
  const published = await publish(channelOf(what), SLOW_VOLUME, (stats) => {
    if (!resumed && cut(stats) > before) {
      resumed = true;
      slow.resume();
    }
    return false;
  });
  report(what, warm, published);
  expect(resumed, "the paused client was never cut").toBe(true);
  expect(cut(await slowStats())).toBe(before + 1);
  expect(await metricCuts(), "tailcast_slow_consumer_disconnects_total").toBe(cutsBefore + 1);
  expect(published.peakPending).toBeLessThanOrEqual(MAX_PENDING + FRAME_SLACK);
  expect(published.peakRss - warm.peakRss).toBeLessThan(RSS_ALLOWANCE);
  return published;
}

const channelOf = (what: string) => `slow-${what.replace(/[^a-z]/gi, "")}`;

/** The `connId` of each connection of `transport` the tailer logged as connected, in order. */
const connectedIds = (transport: "ws" | "socket.io") =>
  tailerLog.records({ msg: "client connected", transport }).map((r) => r.connId as string);

/** The node's log line about cutting connection `connId`, once it has arrived. */
function cutLine(connId: string) {
  return pollUntil(`the slow-consumer line of ${connId}`, async () =>
    tailerLog.records({ msg: "slow consumer disconnected", connId }).at(0),
  );
}

describe("slow consumer", () => {
  it("/ws: a client that stops reading is closed with 4008; the node's memory stays bounded; the others get everything", async () => {
    const channel = channelOf("/ws");
    const wsBefore = connectedIds("ws").length;
    const others = await readers(channel);
    // Warm up: the node's heap grows to its working size for this traffic, every client reading.
    const warm = await publish(channel, WARM_UP);
    await others.got(warm.offsets);
    // Paused before it reads anything, so the kernel keeps its receive window small.
    const slow = await wsSubscriber(channel);
    // Connected after the reader's /ws connection: the next /ws connection the node logged.
    const slowId = await pollUntil(
      "the slow client's connection line",
      async () => connectedIds("ws")[wsBefore + 1],
    );
    const published = await whilePaused(slow.ws, (s) => s.ws, warm, "/ws");

    expect(await slow.closed).toEqual({ code: 4008, reason: "slow consumer" });
    expect(await cutLine(slowId)).toMatchObject({ transport: "ws", maxPendingBytes: MAX_PENDING });
    // What it did get is the start of what was published, in order.
    expect(slow.offsets).toEqual(published.offsets.slice(0, slow.offsets.length));
    await others.got([...warm.offsets, ...published.offsets]);
  });

  it("Socket.IO: a client that stops reading gets tailcast:slow_consumer and is disconnected; the others get everything", async () => {
    const channel = channelOf("Socket.IO");
    const others = await readers(channel);
    const warm = await publish(channel, WARM_UP);
    await others.got(warm.offsets);
    const slow = await socketIoSubscriber(channel);
    const sid = slow.client.socket.id;
    const published = await whilePaused(slow.ws, (s) => s.socketIo, warm, "Socket.IO");

    await slow.client.disconnected;
    expect(slow.signals).toEqual([{ code: "slow_consumer", message: expect.any(String) }]);
    // The cut is logged with the id of the connection the node logged for this socket.
    const slowId = await pollUntil("the slow socket's connection line", async () => {
      const connected = tailerLog.records({ msg: "client connected", sid });
      return connected.length === 1 ? (connected[0]?.connId as string) : undefined;
    });
    expect(await cutLine(slowId)).toMatchObject({ transport: "socket.io", maxPendingBytes: MAX_PENDING });
    const got = slow.client.of(channel).map((m) => m.offset);
    expect(got).toEqual(published.offsets.slice(0, got.length));
    await others.got([...warm.offsets, ...published.offsets]);
  });

  it("the TypeScript client on /ws, slowed until the node cuts it, resumes and gets every message once, in order", async () => {
    const what = "client /ws";
    // The client's sockets, so the test can stop the first one reading.
    const sockets: WebSocket[] = [];
    class PausableWebSocket extends WebSocket {
      constructor(address: string) {
        super(address);
        sockets.push(this);
      }
    }
    const client = await tsClient(channelOf(what), {
      transport: "ws",
      WebSocket: PausableWebSocket as unknown as typeof globalThis.WebSocket,
    });
    const published = await whilePaused(sockets[0] as WebSocket, (s) => s.ws, idle(), what);

    await client.gotExactly(published.offsets);
    expect(sockets.length, "it reconnected").toBeGreaterThan(1);
  });

  it("the TypeScript client on Socket.IO, slowed until the node cuts it, resumes and gets every message once, in order", async () => {
    const what = "client Socket.IO";
    const before = ioSockets.length;
    const client = await tsClient(channelOf(what), { transport: "socket.io" });
    // Its first socket, as socket.io-client made it; its websocket transport is a `ws` socket.
    const first = ioSockets[before] as Socket;
    const published = await whilePaused(engineWs(first), (s) => s.socketIo, idle(), what);

    await client.gotExactly(published.offsets);
    expect(ioSockets.length - before, "it reconnected").toBeGreaterThan(1);
  });
});

/** Nothing published yet: the tailer's memory now is the reference. */
function idle(): Publishing {
  return { offsets: [], bytes: 0, peakRss: rssBytes(tailer.pid), peakPending: 0 };
}

/**
 * A TypeScript client (client/) subscribed to `channel`, reconnecting quickly. `gotExactly` resolves once
 * it has handled every offset given, checks it handled exactly those, once each and in order, and that
 * it reported the cut as `slow_consumer`.
 */
async function tsClient(channel: string, options: Pick<ClientOptions, "transport"> & Partial<ClientOptions>) {
  const client = createClient({ backoff: { initialMs: 50, maxMs: 500 }, ...options, urls: [tailer.url] });
  closers.push(() => client.close());
  const got: Envelope[] = [];
  const errors: string[] = [];
  client.on("error", ({ error }) => errors.push(error.code));
  const subscribed = new Promise((resolve) => client.on("subscribed", resolve));
  client.subscribe(channel, (m) => got.push(m));
  await subscribed;
  return {
    async gotExactly(offsets: number[]): Promise<void> {
      await waitForOffsets(() => got, offsets.length, `the TypeScript client (${options.transport})`);
      expect(got.map((m) => m.offset)).toEqual(offsets);
      expect(errors).toContain("slow_consumer");
    },
  };
}
