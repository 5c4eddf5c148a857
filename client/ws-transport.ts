/** The /ws transport: plain WebSocket, JSON text frames (README "WebSocket"). Works with the browser's WebSocket and `ws`. */

import { isPlainObject } from "../shared/json.ts";
import { ignoreError } from "../shared/promises.ts";
import { DRAIN_CLOSE_CODE } from "../shared/protocol/drain-signal.ts";
import { isPresenceUpdate, PRESENCE_UPDATE_FRAME } from "../shared/protocol/presence-update.ts";
import type { ErrorAck, PresenceAck, SubscribeAck } from "../shared/protocol/replies.ts";
import { SLOW_CONSUMER_CLOSE_CODE, SLOW_CONSUMER_CODE } from "../shared/protocol/slow-consumer.ts";
import type { WsClientFrame } from "../shared/protocol/ws-frames.ts";
import { type Connect, type Connection, isEnvelope, isGapNotice, unanswered } from "./transport.ts";
import { wsUrl } from "./urls.ts";

/** Settles one request from its reply frame (`type` and the rest), or from an answer the client gives itself. */
type Pending = (reply: { type: unknown; rest: Record<string, unknown> } | ErrorAck) => void;

function errorAckOf(rest: Record<string, unknown>): ErrorAck {
  const error = rest.error as { code?: unknown; message?: unknown } | undefined;
  return { ok: false, error: { code: String(error?.code), message: String(error?.message) } };
}

function subscribeAckOf(type: unknown, rest: Record<string, unknown>): SubscribeAck {
  if (type !== "subscribed") return errorAckOf(rest);
  return {
    ok: true,
    channel: String(rest.channel),
    offset: Number(rest.offset),
    epoch: String(rest.epoch),
    recovered: rest.recovered === true,
  };
}

function presenceAckOf(type: unknown, rest: Record<string, unknown>): PresenceAck {
  if (type !== "presence") return errorAckOf(rest);
  const { subjects } = rest;
  return {
    ok: true,
    channel: String(rest.channel),
    subscribers: Number(rest.subscribers),
    nodes: Number(rest.nodes),
    ...(Array.isArray(subjects) ? { subjects: subjects.map(String) } : {}),
  };
}

function parse(data: unknown): Record<string, unknown> | null {
  if (typeof data !== "string") return null;
  try {
    const frame: unknown = JSON.parse(data);
    return isPlainObject(frame) ? frame : null;
  } catch {
    return null;
  }
}

/**
 * A connector over the given WebSocket constructor. The token, if any, travels as the `token` query
 * parameter: browsers cannot set headers on a WebSocket handshake.
 */
export function wsConnector(Ctor: typeof WebSocket): Connect {
  return ({ url, token, timeoutMs, handlers }) =>
    new Promise<Connection>((resolve, reject) => {
      const ws = new Ctor(wsUrl(url, token));
      const pending = new Map<number, Pending>();
      let nextId = 1;
      let opened = false;
      let ended = false;

      const end = (reason: string, notify: boolean) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        const fail = unanswered("disconnected", reason) as ErrorAck;
        for (const settle of pending.values()) settle(fail);
        pending.clear();
        if (!opened) reject(new Error(`cannot connect to ${url}: ${reason}`));
        else if (notify) handlers.closed(reason);
      };
      const timer = setTimeout(() => {
        end(`no connection within ${timeoutMs} ms`, true);
        ws.close();
      }, timeoutMs);
      const send = (frame: WsClientFrame) => {
        if (!ended && ws.readyState === Ctor.OPEN) ws.send(JSON.stringify(frame));
      };

      /** Sends a request and settles with its reply, converted by `ackOf`. */
      const request = <A>(
        frame: (id: number) => WsClientFrame,
        ackOf: (type: unknown, rest: Record<string, unknown>) => A,
      ) =>
        new Promise<A | ErrorAck>((settle) => {
          if (ended) return settle(unanswered("disconnected", "closed") as ErrorAck);
          const id = nextId++;
          const timeout = setTimeout(() => {
            pending.delete(id);
            settle(unanswered("timeout", `no answer within ${timeoutMs} ms`) as ErrorAck);
          }, timeoutMs);
          pending.set(id, (reply) => {
            clearTimeout(timeout);
            settle("ok" in reply ? reply : ackOf(reply.type, reply.rest));
          });
          send(frame(id));
        });

      const connection: Connection = {
        subscribe: (channel, since, presence) =>
          request(
            (id) => ({ type: "subscribe", id, channel, since, ...(presence && { presence }) }),
            subscribeAckOf,
          ),
        presence: (channel) => request((id) => ({ type: "presence", id, channel }), presenceAckOf),
        unsubscribe: (channel) => send({ type: "unsubscribe", id: nextId++, channel }),
        close: () => {
          end("closed by the client", false);
          ws.close(1000);
        },
      };

      ws.onopen = () => {
        opened = true;
        clearTimeout(timer);
        resolve(connection);
      };
      ws.onclose = (ev) => {
        // A draining node closes with 1012, also to refuse a connection (README "Drain").
        if (opened && !ended && ev.code === DRAIN_CLOSE_CODE) handlers.draining();
        // Cut for reading too slowly: reported, then the client resumes with its positions as after any close.
        if (ev.code === SLOW_CONSUMER_CLOSE_CODE && !ended) handlers.refused(SLOW_CONSUMER_CODE, ev.reason);
        end(`closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`, true);
      };
      ws.onerror = ignoreError; // a close event follows and says the rest
      ws.onmessage = (ev) => {
        if (ended) return;
        const frame = parse(ev.data);
        if (frame === null) return;
        const { type, ...rest } = frame;
        if (type === "message") {
          if (isEnvelope(rest)) handlers.message(rest);
          return;
        }
        if (type === "gap") {
          if (isGapNotice(rest)) handlers.gap(rest);
          return;
        }
        if (type === PRESENCE_UPDATE_FRAME) {
          if (isPresenceUpdate(rest)) handlers.presence(rest);
          return;
        }
        const { id } = rest;
        if (type === "error" && id === null) {
          // About the connection, not a request (README "WebSocket"): a close (1008) follows.
          const error = rest.error as { code?: unknown; message?: unknown } | undefined;
          handlers.refused(String(error?.code), String(error?.message));
          return;
        }
        const settle = typeof id === "number" ? pending.get(id) : undefined;
        if (settle === undefined || typeof id !== "number") return;
        pending.delete(id);
        settle({ type, rest });
      };
    });
}
