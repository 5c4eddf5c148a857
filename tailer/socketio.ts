/** Socket.IO on the tailer: subscribe / unsubscribe with acks, recovery with `since`. */
import type { Server as HttpServer } from "node:http";
import type { Collection } from "mongodb";
import { Server } from "socket.io";
import type { BusDoc } from "../shared/bus/doc.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { MessageLimits } from "../shared/message.ts";
import {
  type ClientToServerEvents,
  errorReply,
  parseSubscribe,
  parseUnsubscribe,
  roomOf,
  type ServerToClientEvents,
} from "./protocol.ts";
import { replayThenJoin, type TailView } from "./recovery.ts";

export type TailcastIo = Server<ClientToServerEvents, ServerToClientEvents>;

export interface SocketIoDeps {
  bus: () => Promise<Collection<BusDoc>>;
  tail: TailView & { ready(): boolean };
  limits: MessageLimits;
  allowedOrigins: string[];
  log: Logger;
}

/** An ack the client may have left out, or sent as something other than a function. */
function replier<T>(ack: unknown): (res: T) => void {
  return typeof ack === "function" ? (ack as (res: T) => void) : () => {};
}

export function attachSocketIo(http: HttpServer, deps: SocketIoDeps): TailcastIo {
  const io: TailcastIo = new Server(http, {
    serveClient: true,
    // Leave upgrades on other paths (/ws) to their own handler instead of destroying them.
    destroyUpgrade: false,
    maxHttpBufferSize: 64 * 1024,
    ...(deps.allowedOrigins.length > 0 ? { cors: { origin: deps.allowedOrigins } } : {}),
  });

  io.on("connection", (socket) => {
    deps.log.debug("client connected", { sid: socket.id });

    socket.on("subscribe", async (request, ack) => {
      const reply = replier<Parameters<NonNullable<typeof ack>>[0]>(ack);
      try {
        const { channel, since } = parseSubscribe(request, deps.limits);
        if (!deps.tail.ready()) {
          throw new TailcastError(
            ErrorCode.busUnavailable,
            "This node is not following the bus yet; retry.",
            {
              retryAfter: 1,
            },
          );
        }
        const join = () => void socket.join(roomOf(channel));
        if (since === null) {
          join();
          const p = deps.tail.position();
          return reply({ ok: true, channel, offset: p.offset, epoch: p.epoch, recovered: true });
        }
        const { recovered, position } = await replayThenJoin(await deps.bus(), channel, since, deps.tail, {
          emit: (envelope) => socket.emit(envelope.event, envelope),
          join,
          connected: () => socket.connected,
        });
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
        void socket.leave(roomOf(channel));
        reply({ ok: true, channel });
      } catch (err) {
        reply(errorReply(err));
      }
    });
  });
  return io;
}
