/**
 * The Socket.IO transport. `socket.io-client` is imported on first use, so applications on /ws never
 * load it; it must be installed to use this transport.
 */
import type { Socket } from "socket.io-client";
import { isPlainObject } from "../shared/json.ts";
import { DRAINING_CODE, DRAINING_EVENT } from "../shared/protocol/drain-signal.ts";
import { isPresenceUpdate, PRESENCE_UPDATE_EVENT } from "../shared/protocol/presence-update.ts";
import type { ClientToServerEvents, ServerToClientEvents } from "../shared/protocol/replies.ts";
import { SLOW_CONSUMER_CODE, SLOW_CONSUMER_EVENT } from "../shared/protocol/slow-consumer.ts";
import {
  type Connect,
  type Connection,
  ConnectRefused,
  isEnvelope,
  isGapNotice,
  unanswered,
} from "./transport.ts";

export const socketIoConnect: Connect = async ({ url, token, timeoutMs, handlers }) => {
  const { io } = await import("socket.io-client");
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    // WebSocket only: long-polling needs sticky sessions behind a load balancer, and the client
    // reconnects (to another node, with `since`) on its own, so Socket.IO's reconnection stays off.
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
    auth: token === undefined ? {} : { token },
  });
  let closedByUs = false;
  socket.onAny((event: string, payload: unknown) => {
    if (closedByUs) return;
    // `gap` is reserved: no message is ever emitted under that name (shared/message.ts).
    if (event === "gap") {
      if (isGapNotice(payload)) handlers.gap(payload);
    } else if (event === DRAINING_EVENT) {
      // The node is draining (README "Drain"): a server disconnect follows. Reserved, never a message.
      if (isPlainObject(payload) && payload.code === DRAINING_CODE) handlers.draining();
    } else if (event === PRESENCE_UPDATE_EVENT) {
      if (isPresenceUpdate(payload)) handlers.presence(payload);
    } else if (event === SLOW_CONSUMER_EVENT) {
      // Cut for reading too slowly; the disconnect follows and the client resumes with its positions.
      const { message } = isPlainObject(payload) ? payload : {};
      handlers.refused(SLOW_CONSUMER_CODE, String(message));
    } else if (event === "error") {
      // The node ends the connection (README "Socket.IO", e.g. token_expired); `error` is reserved, never a message.
      const { code, message } = isPlainObject(payload) ? payload : {};
      handlers.refused(String(code), String(message));
    } else if (isEnvelope(payload)) handlers.message(payload);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err: Error & { data?: { code?: unknown } }) => {
      socket.close();
      const code = err.data?.code;
      reject(typeof code === "string" ? new ConnectRefused(code, err.message) : err);
    });
  });
  socket.on("disconnect", (reason) => {
    if (!closedByUs) handlers.closed(reason);
  });
  const connection: Connection = {
    subscribe: async (channel, since, presence) => {
      try {
        const request = { channel, since, ...(presence && { presence }) };
        return await socket.timeout(timeoutMs).emitWithAck("subscribe", request);
      } catch (err) {
        return unanswered("disconnected", (err as Error).message);
      }
    },
    presence: async (channel) => {
      try {
        return await socket.timeout(timeoutMs).emitWithAck("presence", { channel });
      } catch (err) {
        return unanswered("disconnected", (err as Error).message);
      }
    },
    unsubscribe: (channel) => void socket.emit("unsubscribe", { channel }),
    close: () => {
      closedByUs = true;
      socket.close();
    },
  };
  return connection;
};
