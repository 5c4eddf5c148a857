/** A real socket.io-client subscriber that records what it receives and can await counts. */
import { io, type Socket } from "socket.io-client";
import type { Envelope } from "../../shared/message.ts";
import type { Position } from "../../shared/offsets.ts";
import type { SubscribeAck, UnsubscribeAck } from "../../shared/protocol/replies.ts";

export interface Subscriber {
  socket: Socket;
  received: Envelope[];
  subscribe(channel: string, since?: Position | null): Promise<SubscribeAck>;
  unsubscribe(channel: string): Promise<UnsubscribeAck>;
  /** Resolves once `count` messages (of `channel`, if given) arrived; rejects after `timeoutMs`. */
  waitFor(count: number, opts?: { channel?: string; timeoutMs?: number }): Promise<Envelope[]>;
  close(): void;
}

export async function connectSubscriber(url: string, events: string[] = ["message"]): Promise<Subscriber> {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  const received: Envelope[] = [];
  const waiters = new Set<() => void>();
  for (const event of events) {
    socket.on(event, (m: Envelope) => {
      received.push(m);
      for (const w of waiters) w();
    });
  }
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  const of = (channel?: string) => (channel ? received.filter((m) => m.channel === channel) : received);
  return {
    socket,
    received,
    subscribe: (channel, since) =>
      socket.timeout(30_000).emitWithAck("subscribe", { channel, since: since ?? undefined }),
    unsubscribe: (channel) => socket.timeout(10_000).emitWithAck("unsubscribe", { channel }),
    waitFor: (count, opts = {}) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const list = of(opts.channel);
          if (list.length < count) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(list);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out with ${of(opts.channel).length} of ${count} messages`));
        }, opts.timeoutMs ?? 30_000);
        if (!check()) waiters.add(check);
      }),
    close: () => socket.close(),
  };
}
