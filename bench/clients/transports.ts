/**
 * How each benchmark client connects, subscribes and hands arrivals to its Recorder — one function per
 * system, each the plain way a user of that system would write it.
 */
import { io, type Socket } from "socket.io-client";
import { WebSocket } from "ws";
import { nowMs } from "../child.ts";
import { readBareTail } from "./bare-tail.ts";
import { channelName } from "./payload.ts";
import type { Recorder } from "./recorder.ts";

export const TRANSPORTS = [
  "tailcast-sio",
  "tailcast-ws",
  "classic-sio",
  "redis-sio",
  "bare-ws",
  "mongo-reader",
] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface ClientSpec {
  transport: Transport;
  /** HTTP(S) URL of the node, or the MongoDB URI for a bare reader. */
  url: string;
  node: number;
  channels: number[];
  /**
   * tailcast only: latency from the publisher's send (`send`, the default) or from the bus `ts` of the
   * envelope (`bus`: insert, tail and fan-out, without the publish request).
   */
  latencyFrom?: "send" | "bus";
  /** Bare reader only: database and capped collection. */
  db?: string;
  collection?: string;
}

export interface Connected {
  close(): void;
}

const TIMEOUT_MS = 30_000;

export function connectClient(spec: ClientSpec, recorder: Recorder): Promise<Connected> {
  switch (spec.transport) {
    case "tailcast-sio":
      return tailcastSocketIo(spec, recorder);
    case "tailcast-ws":
      return tailcastWs(spec, recorder);
    case "classic-sio":
      return socketIo(spec, recorder, false);
    case "redis-sio":
      return socketIo(spec, recorder, true);
    case "bare-ws":
      return bareWs(spec, recorder);
    case "mongo-reader":
      return readBareTail(spec, recorder);
  }
}

function openSocketIo(url: string): Promise<Socket> {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(new Error(`${url}: ${err.message}`)));
  });
}

interface Envelope {
  data: unknown;
  offset: number;
  /** ISO time the bus accepted the message. */
  ts: string;
}

/** What a tailcast client's latency is measured from (ClientSpec `latencyFrom`). */
function originOf(spec: ClientSpec): (m: Envelope) => number | undefined {
  return spec.latencyFrom === "bus" ? (m) => Date.parse(m.ts) : () => undefined;
}

async function tailcastSocketIo(spec: ClientSpec, recorder: Recorder): Promise<Connected> {
  const socket = await openSocketIo(spec.url);
  const origin = originOf(spec);
  socket.on("message", (m: Envelope) => recorder.receive(m.data, m.offset, nowMs(), origin(m)));
  for (const c of spec.channels) {
    const ack = (await socket.timeout(TIMEOUT_MS).emitWithAck("subscribe", { channel: channelName(c) })) as {
      ok: boolean;
      error?: unknown;
    };
    if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
  }
  return { close: () => socket.close() };
}

/** The classic prototype sends everything to everyone; the Redis-adapter nodes join a room per channel. */
async function socketIo(spec: ClientSpec, recorder: Recorder, rooms: boolean): Promise<Connected> {
  const socket = await openSocketIo(spec.url);
  socket.on("message", (m: unknown) => recorder.receive(m, undefined, nowMs()));
  if (rooms) {
    for (const c of spec.channels) await socket.timeout(TIMEOUT_MS).emitWithAck("subscribe", channelName(c));
  }
  return { close: () => socket.close() };
}

function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

async function tailcastWs(spec: ClientSpec, recorder: Recorder): Promise<Connected> {
  const ws = await openWs(`${spec.url.replace(/^http/, "ws")}/ws`);
  const waiting = new Map<number, (frame: { type: string; error?: unknown }) => void>();
  const origin = originOf(spec);
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as { type: string; id?: number } & Partial<Envelope>;
    if (frame.type === "message") {
      return recorder.receive(frame.data, frame.offset, nowMs(), origin(frame as Envelope));
    }
    if (typeof frame.id === "number") waiting.get(frame.id)?.(frame);
  });
  let id = 0;
  for (const c of spec.channels) {
    const request = ++id;
    const reply = await new Promise<{ type: string; error?: unknown }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("subscribe timed out")), TIMEOUT_MS);
      waiting.set(request, (frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
      ws.send(JSON.stringify({ type: "subscribe", id: request, channel: channelName(c) }));
    });
    if (reply.type !== "subscribed") throw new Error(`subscribe refused: ${JSON.stringify(reply.error)}`);
  }
  return { close: () => ws.close() };
}

async function bareWs(spec: ClientSpec, recorder: Recorder): Promise<Connected> {
  const ws = await openWs(spec.url.replace(/^http/, "ws"));
  ws.on("message", (data) => recorder.receive(JSON.parse(String(data)), undefined, nowMs()));
  return { close: () => ws.close() };
}
