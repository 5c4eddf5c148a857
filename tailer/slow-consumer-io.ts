/**
 * The slow-consumer bound on each transport (policy: slow-consumer.ts): what a connection's outbound
 * buffer is, and how the connection is told and dropped.
 *
 * /ws: `ws`'s `bufferedAmount` — its sender's queue plus the bytes the socket has not handed to the
 * kernel yet. Nothing is queued by tailcast itself.
 *
 * Socket.IO: engine.io keeps a write buffer of packets while its transport is busy (websocket: until the
 * previous frames are written; polling: until the client polls again), then hands it to the transport.
 * Its size in bytes is not kept by engine.io, so it is counted here from the connection's own events
 * (`packetCreate` adds a packet, `flush` empties the buffer), plus, on the websocket transport, the
 * underlying `ws` socket's `bufferedAmount`. On polling, what was flushed sits in one HTTP response,
 * and the next flush needs the client to have read it, so at most one more bound's worth is held.
 */
import type { Socket } from "socket.io";
import { WebSocket } from "ws";
import {
  SLOW_CONSUMER_CLOSE_CODE,
  SLOW_CONSUMER_CLOSE_REASON,
  SLOW_CONSUMER_CODE,
  SLOW_CONSUMER_EVENT,
  SLOW_CONSUMER_MESSAGE,
} from "../shared/protocol/slow-consumer.ts";
import { type GuardedConnection, overBound, type SlowConsumers } from "./slow-consumer.ts";

/** One per socket, made the first time the socket is found over the bound. */
const wsConnections = new WeakMap<WebSocket, GuardedConnection>();

/** A `/ws` peer as the bound sees it. */
export function wsConnection(ws: WebSocket): GuardedConnection {
  let conn = wsConnections.get(ws);
  if (conn === undefined) {
    conn = newWsConnection(ws);
    wsConnections.set(ws, conn);
  }
  return conn;
}

function newWsConnection(ws: WebSocket): GuardedConnection {
  return {
    transport: "ws",
    pending: () => ws.bufferedAmount,
    open: () => ws.readyState === WebSocket.OPEN,
    // Queued behind what the peer has not read: a peer that reads again gets it (README "WebSocket").
    signal: () => ws.close(SLOW_CONSUMER_CLOSE_CODE, SLOW_CONSUMER_CLOSE_REASON),
    terminate: () => ws.terminate(),
    closed: () => ws.readyState === WebSocket.CLOSED,
  };
}

/** Call after each send to `ws`: over the bound, it becomes a suspect (slow-consumer.ts). */
export function checkWs(slow: SlowConsumers, ws: WebSocket): void {
  if (overBound(ws.bufferedAmount, slow.maxPendingBytes)) slow.suspect(wsConnection(ws));
}

/** What is read of an engine.io packet: its data, or the frame a broadcast pre-encoded for websocket. */
interface EnginePacket {
  data?: unknown;
  options?: { wsPreEncodedFrame?: readonly Buffer[] };
}

/**
 * The parts of engine.io's connection used here. `packetCreate` and `flush` are events engine.io
 * documents; `transport.socket` is the websocket transport's `ws` socket (absent on polling).
 */
interface EngineConnection {
  readonly readyState: string;
  readonly transport: { readonly socket?: { readonly bufferedAmount?: number; terminate?(): void } };
  on(event: "packetCreate", listener: (packet: EnginePacket) => void): unknown;
  on(event: "flush", listener: () => void): unknown;
  close(discard?: boolean): unknown;
}

/** A packet's size: exact for a pre-encoded frame; a string's length (UTF-16 units) otherwise. */
function packetBytes(packet: EnginePacket): number {
  const frame = packet.options?.wsPreEncodedFrame;
  if (frame !== undefined) {
    let bytes = 0;
    for (let i = 0; i < frame.length; i++) bytes += (frame[i] as Buffer).length;
    return bytes;
  }
  const { data } = packet;
  if (typeof data === "string") return data.length;
  return Buffer.isBuffer(data) ? data.length : 0;
}

function transportBuffered(conn: EngineConnection): number {
  const amount = conn.transport.socket?.bufferedAmount;
  return typeof amount === "number" ? amount : 0;
}

/**
 * Watches a Socket.IO connection's outbound bytes after each packet (inside engine.io's send path; for
 * broadcasts, inside the adapter's loop over a room) and makes it a suspect over the bound.
 */
export function guardSocketIo(slow: SlowConsumers, socket: Socket): GuardedConnection {
  // `socket.conn` is engine.io's connection; its write buffer and events are what engine.io's own
  // `flush` uses, but its type definitions keep them private.
  const conn = socket.conn as unknown as EngineConnection;
  let queued = 0; // bytes in engine.io's write buffer
  const guarded: GuardedConnection = {
    transport: "socket.io",
    pending: () => queued + transportBuffered(conn),
    open: () => conn.readyState === "open",
    signal: () => {
      socket.emit(SLOW_CONSUMER_EVENT, { code: SLOW_CONSUMER_CODE, message: SLOW_CONSUMER_MESSAGE });
      socket.disconnect(true);
    },
    terminate: () => {
      const ws = conn.transport.socket;
      if (typeof ws?.terminate === "function") ws.terminate();
      else conn.close(true);
    },
    closed: () => conn.readyState === "closed",
  };
  conn.on("packetCreate", (packet) => {
    queued += packetBytes(packet);
    if (overBound(queued + transportBuffered(conn), slow.maxPendingBytes)) slow.suspect(guarded);
  });
  conn.on("flush", () => {
    queued = 0;
  });
  return guarded;
}
