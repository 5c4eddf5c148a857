/**
 * Socket.IO on the tailer: token check at connect, subscribe / unsubscribe / refresh with acks,
 * recovery with `since`, disconnect when a token expires unrefreshed.
 */
import type { Server as HttpServer } from "node:http";
import type { Collection } from "mongodb";
import { Server } from "socket.io";
import type { TokenVerifier } from "../shared/auth/jwt.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { MessageLimits } from "../shared/message.ts";
import {
  type ClientToServerEvents,
  errorReply,
  type ServerToClientEvents,
} from "../shared/protocol/replies.ts";
import { parseSubscribe, parseUnsubscribe } from "../shared/protocol/requests.ts";
import { ConnectionAccess, originAllowed, tokenExpired } from "./access.ts";
import { roomOf } from "./fanout.ts";
import { notReady, replayThenJoin, type TailView } from "./recovery.ts";

interface SocketData {
  access: ConnectionAccess;
  /**
   * Channel → token of its latest subscribe. A replay emits and joins only while its token is
   * current, so a repeated subscribe or an unsubscribe cancels it instead of doubling the stream.
   */
  subs: Map<string, symbol>;
}

export type TailcastIo = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;

export interface SocketIoDeps {
  bus: () => Promise<Collection<BusDoc>>;
  tail: TailView & { ready(): boolean };
  limits: MessageLimits;
  allowedOrigins: string[];
  subscribers: TokenVerifier | "off";
  maxSubscriptions: number;
  /** Refuses a connection (e.g. too many from one address) by throwing; returns its release. */
  admitConnection: (address: string) => () => void;
  log: Logger;
}

/** An ack the client may have left out, or sent as something other than a function. */
function replier<T>(ack: unknown): (res: T) => void {
  return typeof ack === "function" ? (ack as (res: T) => void) : () => {};
}

/** `connect_error` carries `err.data = { code }` (brief §2). */
function refusal(err: unknown): Error {
  const { error } = errorReply(err);
  return Object.assign(new Error(error.message), { data: { code: error.code } });
}

export function attachSocketIo(http: HttpServer, deps: SocketIoDeps): TailcastIo {
  const io: TailcastIo = new Server(http, {
    serveClient: true,
    // Leave upgrades on other paths (/ws) to their own handler instead of destroying them.
    destroyUpgrade: false,
    maxHttpBufferSize: 64 * 1024,
    ...(deps.allowedOrigins.length > 0 ? { cors: { origin: deps.allowedOrigins } } : {}),
    allowRequest: (req, callback) => callback(null, originAllowed(req.headers.origin, deps.allowedOrigins)),
  });

  io.use(async (socket, next) => {
    try {
      const release = deps.admitConnection(socket.handshake.address);
      socket.once("disconnect", release);
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      socket.data.access = await ConnectionAccess.open(auth?.token, {
        verifier: deps.subscribers,
        maxSubscriptions: deps.maxSubscriptions,
        onExpired: () => {
          const { error } = errorReply(tokenExpired());
          socket.emit("error", error);
          socket.disconnect(true);
        },
      });
      socket.data.subs = new Map();
      socket.once("disconnect", () => socket.data.access?.close());
      next();
    } catch (err) {
      next(refusal(err));
    }
  });

  io.on("connection", (socket) => {
    const access = socket.data.access;
    deps.log.debug("client connected", { sid: socket.id, sub: access.subject });

    socket.on("subscribe", async (request, ack) => {
      const reply = replier<Parameters<NonNullable<typeof ack>>[0]>(ack);
      try {
        const { channel, since } = parseSubscribe(request, deps.limits);
        access.admit(channel);
        if (!deps.tail.ready()) throw notReady();
        const { subs } = socket.data;
        const token = Symbol(channel);
        subs.set(channel, token);
        void socket.leave(roomOf(channel));
        const current = () => socket.connected && subs.get(channel) === token;
        const join = () => {
          if (!current()) return;
          access.channels.add(channel);
          void socket.join(roomOf(channel));
        };
        if (since === null) {
          join();
          const p = deps.tail.position();
          return reply({ ok: true, channel, offset: p.offset, epoch: p.epoch, recovered: true });
        }
        const { recovered, position } = await replayThenJoin(await deps.bus(), channel, since, deps.tail, {
          emit: (envelope) => {
            if (current()) socket.emit(envelope.event, envelope);
          },
          join,
          connected: current,
        });
        if (!current())
          throw new TailcastError(
            ErrorCode.invalidRequest,
            "Cancelled by a later request for the same channel.",
          );
        if (!recovered) deps.log.info("subscriber could not be fully recovered", { channel, since });
        reply({ ok: true, channel, offset: position.offset, epoch: position.epoch, recovered });
      } catch (err) {
        reply(errorReply(err));
      }
    });

    socket.on("unsubscribe", (request, ack) => {
      const reply = replier<Parameters<NonNullable<typeof ack>>[0]>(ack);
      try {
        const { channel } = parseUnsubscribe(request, deps.limits);
        access.channels.delete(channel);
        socket.data.subs.delete(channel);
        void socket.leave(roomOf(channel));
        reply({ ok: true, channel });
      } catch (err) {
        reply(errorReply(err));
      }
    });

    socket.on("refresh", async (request, ack) => {
      const reply = replier<Parameters<NonNullable<typeof ack>>[0]>(ack);
      try {
        const token =
          typeof request === "object" && request !== null
            ? (request as { token?: unknown }).token
            : undefined;
        const { expiresAt, revoked } = await access.refresh(token);
        for (const channel of revoked) {
          socket.data.subs.delete(channel);
          void socket.leave(roomOf(channel));
        }
        reply({ ok: true, expiresAt, revoked });
      } catch (err) {
        reply(errorReply(err));
      }
    });
  });
  return io;
}
