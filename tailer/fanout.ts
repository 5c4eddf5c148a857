/**
 * The fan-out: one small interface between the tail loop and the transports. Each transport
 * (Socket.IO rooms now, /ws next) implements it; the node delivers every envelope to all of them.
 */
import type { Server } from "socket.io";
import type { Envelope } from "../shared/message.ts";
import { type ClientToServerEvents, roomOf, type ServerToClientEvents } from "./protocol.ts";

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
