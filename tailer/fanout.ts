/**
 * The fan-out: one small interface between the tail loop and the transports. Each transport
 * (Socket.IO rooms, /ws channel sets) implements it; the node delivers every envelope to all of them.
 * Either way a message is serialized and framed once per delivery, not once per subscriber.
 */
import type { Server } from "socket.io";
import * as wsModule from "ws";
import { WebSocket } from "ws";
import type { Envelope } from "../shared/message.ts";
import type { ClientToServerEvents, ServerToClientEvents } from "../shared/protocol/replies.ts";
import type { WsMessageFrame } from "../shared/protocol/ws-frames.ts";

/** Socket.IO room of a channel; prefixed so it can never collide with a socket id room. */
export const roomOf = (channel: string) => `ch:${channel}`;

export interface Fanout {
  deliver(envelope: Envelope): void;
  /** Connections a message of `channel` is sent to (for the deliveries metric). */
  subscribers(channel: string): number;
}

/** Socket.IO's adapter encodes a broadcast once and sends that frame to every socket of the room. */
export class SocketIoFanout implements Fanout {
  readonly #io: Server<ClientToServerEvents, ServerToClientEvents>;
  constructor(io: Server<ClientToServerEvents, ServerToClientEvents>) {
    this.#io = io;
  }
  deliver(envelope: Envelope): void {
    this.#io.to(roomOf(envelope.channel)).emit(envelope.event, envelope);
  }
  subscribers(channel: string): number {
    return this.#io.sockets.adapter.rooms.get(roomOf(channel))?.size ?? 0;
  }
}

export class CompositeFanout implements Fanout {
  readonly #targets: Fanout[];
  constructor(targets: Fanout[]) {
    this.#targets = targets;
  }
  deliver(envelope: Envelope): void {
    for (const t of this.#targets) t.deliver(envelope);
  }
  subscribers(channel: string): number {
    let n = 0;
    for (const t of this.#targets) n += t.subscribers(channel);
    return n;
  }
}

/** A whole WebSocket frame: header and payload, as `ws`'s Sender.frame builds it. */
type Frame = Buffer[];

/**
 * `ws` builds a frame with its public static `Sender.frame` and sends a built one with the sender's
 * `sendFrame`, which its type definitions leave out. This is how Socket.IO sends one pre-encoded frame
 * to many sockets; it is only valid without per-message compression, which tailer/ws.ts turns off.
 */
interface FrameSender {
  sendFrame(frame: Frame): void;
}
// `Sender` is a named export of ws's ESM entry that @types/ws does not declare.
const { Sender } = wsModule as unknown as {
  Sender: {
    frame(
      data: Buffer,
      options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
    ): Frame;
  };
};
const TEXT = 1;

function senderOf(ws: WebSocket): FrameSender | null {
  const sender = (ws as unknown as { _sender?: Partial<FrameSender> })._sender;
  return typeof sender?.sendFrame === "function" ? (sender as FrameSender) : null;
}

/** What the /ws fan-out checks after each send (tailer/slow-consumer.ts). */
export interface WsBound {
  readonly maxPendingBytes: number;
  /** Called for a socket found holding more than `maxPendingBytes`. */
  over(ws: WebSocket): void;
}

const unbounded: WsBound = { maxPendingBytes: Number.POSITIVE_INFINITY, over: () => {} };

/**
 * /ws channel membership (the session joins and leaves); each message is encoded and framed once. After
 * each send the socket's `bufferedAmount` is compared with the bound: a number read, nothing allocated.
 */
export class WsFanout implements Fanout {
  readonly #channels = new Map<string, Set<WebSocket>>();
  readonly #bound: WsBound;

  constructor(bound: WsBound = unbounded) {
    this.#bound = bound;
  }

  /** The `message` frame's text, as bytes. */
  static encode(envelope: Envelope): Buffer {
    const frame: WsMessageFrame = { type: "message", ...envelope };
    return Buffer.from(JSON.stringify(frame));
  }

  join(ws: WebSocket, channel: string): void {
    let sockets = this.#channels.get(channel);
    if (sockets === undefined) {
      sockets = new Set();
      this.#channels.set(channel, sockets);
    }
    sockets.add(ws);
  }

  subscribers(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  leave(ws: WebSocket, channel: string): void {
    const sockets = this.#channels.get(channel);
    if (sockets === undefined) return;
    sockets.delete(ws);
    if (sockets.size === 0) this.#channels.delete(channel);
  }

  deliver(envelope: Envelope): void {
    const sockets = this.#channels.get(envelope.channel);
    if (sockets === undefined || sockets.size === 0) return;
    const data = WsFanout.encode(envelope);
    const frame = Sender.frame(data, { fin: true, opcode: TEXT, mask: false, readOnly: true, rsv1: false });
    const { maxPendingBytes } = this.#bound;
    for (const ws of sockets) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const sender = senderOf(ws);
      if (sender) sender.sendFrame(frame);
      else ws.send(data, { binary: false });
      if (ws.bufferedAmount > maxPendingBytes) this.#bound.over(ws);
    }
  }
}
