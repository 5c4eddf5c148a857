/**
 * The fan-out: one small interface between the tail loop and the transports. Each transport
 * (Socket.IO rooms, /ws channel sets) implements it; the node delivers every envelope to all of them.
 */
import type { Server } from "socket.io";
import { WebSocket } from "ws";
import type { Envelope } from "../shared/message.ts";
import type { ClientToServerEvents, ServerToClientEvents } from "../shared/protocol/replies.ts";

/** Socket.IO room of a channel; prefixed so it can never collide with a socket id room. */
export const roomOf = (channel: string) => `ch:${channel}`;

export interface Fanout {
  deliver(envelope: Envelope): void;
}

export class SocketIoFanout implements Fanout {
  readonly #io: Server<ClientToServerEvents, ServerToClientEvents>;
  constructor(io: Server<ClientToServerEvents, ServerToClientEvents>) {
    this.#io = io;
  }
  deliver(envelope: Envelope): void {
    this.#io.to(roomOf(envelope.channel)).emit(envelope.event, envelope);
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
}

/** /ws channel membership (tailer/ws.ts joins and leaves); each message is encoded once for all sockets. */
export class WsFanout implements Fanout {
  readonly #channels = new Map<string, Set<WebSocket>>();

  join(ws: WebSocket, channel: string): void {
    let sockets = this.#channels.get(channel);
    if (sockets === undefined) {
      sockets = new Set();
      this.#channels.set(channel, sockets);
    }
    sockets.add(ws);
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
    // The same bytes to every socket: fan-out cost must not grow with JSON work.
    const frame = Buffer.from(JSON.stringify({ type: "message", ...envelope }));
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: false });
  }
}
