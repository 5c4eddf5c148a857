/**
 * Socket.IO on the tailer, a thin adapter: the handshake is admitted by the session (token, connection
 * limit, drain) and refused with `connect_error` carrying `err.data = { code }` (README "Socket.IO");
 * `subscribe` / `unsubscribe` / `refresh` go to the session and come back as acks. Each connection is
 * held to the slow-consumer bound (slow-consumer-io.ts).
 */
import type { Server as HttpServer } from "node:http";
import { Server, type Socket } from "socket.io";
import { errorBody } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { DRAINING_EVENT, drainingNotice } from "../shared/protocol/drain-signal.ts";
import { PRESENCE_UPDATE_EVENT } from "../shared/protocol/presence-update.ts";
import { type ClientToServerEvents, type ServerToClientEvents, toAck } from "../shared/protocol/replies.ts";
import { REQUEST_TYPES } from "../shared/protocol/requests.ts";
import { originAllowed } from "./access.ts";
import { roomOf } from "./fanout.ts";
import type { SessionTransport, SubscriberSession } from "./session.ts";
import type { SubscriberSessions } from "./sessions.ts";
import type { GuardedConnection, SlowConsumers } from "./slow-consumer.ts";
import { guardSocketIo } from "./slow-consumer-io.ts";

interface SocketData {
  session: SubscriberSession;
}

export type TailcastIo = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;

type TailcastSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface SocketIoDeps {
  sessions: SubscriberSessions;
  allowedOrigins: string[];
  /** Largest packet accepted; a bigger one disconnects its sender. */
  maxPayload: number;
  /** The outbound-buffer bound each connection is held to. */
  slowConsumers: SlowConsumers;
  log: Logger;
}

/** An ack the client may have left out, or sent as something other than a function: then nobody hears the answer. */
function replier(ack: unknown): (res: unknown) => void {
  return typeof ack === "function" ? (ack as (res: unknown) => void) : () => {};
}

/** `connect_error` carries `err.data = { code }`. */
function refusal(err: unknown): Error {
  const { error } = errorBody(err);
  return Object.assign(new Error(error.message), { data: { code: error.code } });
}

function transportOf(socket: TailcastSocket, guarded: GuardedConnection): SessionTransport {
  return {
    emit: (envelope) => void socket.emit(envelope.event, envelope),
    join: (channel) => void socket.join(roomOf(channel)),
    leave: (channel) => void socket.leave(roomOf(channel)),
    connected: () => socket.connected,
    disconnect: (notice) => {
      socket.emit("error", notice);
      socket.disconnect(true);
    },
    gap: (notice) => void socket.emit("gap", notice),
    presenceUpdate: (update) => void socket.emit(PRESENCE_UPDATE_EVENT, update),
    // A socket still in the handshake is not told (disconnect would be a no-op): the drain's sweep
    // after the window tells it once it is connected. A refused handshake gets `node_draining` instead.
    moveOn: () => {
      if (!socket.connected) return false;
      socket.emit(DRAINING_EVENT, drainingNotice);
      socket.disconnect(true);
      return true;
    },
    // `writeBuffer` is left out of engine.io's type definitions (marked private) but is the
    // connection's outbound queue, as engine.io's own `flush` reads it.
    drained: () => engineDrained(socket.conn as unknown as EngineConnection),
    pending: () => guarded.pending(),
  };
}

/** What `drained` reads of engine.io's connection: its write buffer and the transport under it. */
interface EngineConnection {
  readonly readyState: string;
  readonly writeBuffer: unknown[];
  readonly transport: { readonly writable: boolean } & NodeJS.EventEmitter;
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

/**
 * Resolves once engine.io has nothing left to send on this connection: its write buffer is empty and
 * the transport is writable again (websocket: the last frame was written; polling: the client took the
 * last payload). The transport emits `drain` when it gets there; the connection may upgrade meanwhile,
 * so the transport is looked up again after each wait.
 */
async function engineDrained(conn: EngineConnection): Promise<void> {
  while (conn.readyState !== "closed" && (conn.writeBuffer.length > 0 || !conn.transport.writable)) {
    const transport = conn.transport;
    await new Promise<void>((resolve) => {
      const done = () => {
        transport.off("drain", done);
        conn.off("close", done);
        resolve();
      };
      transport.once("drain", done);
      conn.once("close", done);
    });
  }
}

export function attachSocketIo(http: HttpServer, deps: SocketIoDeps): TailcastIo {
  const io: TailcastIo = new Server(http, {
    serveClient: true,
    // Leave upgrades on other paths (/ws) to their own handler instead of destroying them.
    destroyUpgrade: false,
    maxHttpBufferSize: deps.maxPayload,
    ...(deps.allowedOrigins.length > 0 ? { cors: { origin: deps.allowedOrigins } } : {}),
    allowRequest: (req, callback) => callback(null, originAllowed(req.headers.origin, deps.allowedOrigins)),
  });

  io.use(async (socket, next) => {
    try {
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      const slow = deps.slowConsumers;
      const guarded = guardSocketIo(slow, socket);
      const transport = transportOf(socket, guarded);
      const session = await deps.sessions.connect(socket.handshake.address, auth?.token, transport);
      socket.data.session = session;
      guarded.log = session.log; // a slow-consumer cut is logged with this connection's id
      // Socket.IO emits `disconnect` only for a socket that got as far as connecting; the engine's
      // connection closes in every case, also while the token was being checked.
      socket.conn.once("close", () => session.close());
      socket.once("disconnect", () => session.close());
      if (socket.conn.readyState !== "open") session.close();
      next();
    } catch (err) {
      next(refusal(err));
    }
  });

  io.on("connection", (socket) => {
    const { session } = socket.data;
    session.log.debug("client connected", { transport: "socket.io", sid: socket.id, sub: session.subject });
    for (const type of REQUEST_TYPES) {
      socket.on(type, async (request: unknown, ack: unknown) => {
        replier(ack)(toAck(await session.handle(type, request)));
      });
    }
  });
  return io;
}
