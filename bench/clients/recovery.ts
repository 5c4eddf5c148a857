/**
 * The recovery client process: a fresh connection subscribes with `since` and times the replay — every
 * missed message arrives before the ack — checking it got exactly the k it missed, in order.
 */
import { io } from "socket.io-client";
import { WebSocket } from "ws";
import { nowMs, serve } from "../child.ts";

export interface RecoverRequest {
  url: string;
  transport: "tailcast-sio" | "tailcast-ws";
  channel: string;
  since: { offset: number; epoch: string };
  timeoutMs: number;
}

export interface RecoverResult {
  ms: number;
  received: number;
  inOrder: boolean;
  recovered: boolean;
}

interface Envelope {
  offset: number;
}

function counter() {
  let last = Number.NEGATIVE_INFINITY;
  const state = { received: 0, inOrder: true };
  return {
    state,
    add(m: Envelope) {
      state.received++;
      if (m.offset <= last) state.inOrder = false;
      last = m.offset;
    },
  };
}

async function viaSocketIo(req: RecoverRequest): Promise<RecoverResult> {
  const socket = io(req.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
    });
    const c = counter();
    socket.on("message", (m: Envelope) => c.add(m));
    const t0 = nowMs();
    const ack = (await socket
      .timeout(req.timeoutMs)
      .emitWithAck("subscribe", { channel: req.channel, since: req.since })) as {
      ok: boolean;
      recovered?: boolean;
      error?: unknown;
    };
    const ms = nowMs() - t0;
    if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
    return { ms, ...c.state, recovered: ack.recovered === true };
  } finally {
    socket.close();
  }
}

async function viaWs(req: RecoverRequest): Promise<RecoverResult> {
  const ws = new WebSocket(`${req.url.replace(/^http/, "ws")}/ws`);
  try {
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const c = counter();
    const t0 = nowMs();
    const reply = await new Promise<{ type: string; recovered?: boolean; error?: unknown }>(
      (resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no subscribed frame in time")), req.timeoutMs);
        ws.on("message", (data) => {
          const frame = JSON.parse(String(data)) as { type: string; offset: number; recovered?: boolean };
          if (frame.type === "message") return c.add(frame);
          clearTimeout(timer);
          resolve(frame);
        });
        ws.send(JSON.stringify({ type: "subscribe", id: 1, channel: req.channel, since: req.since }));
      },
    );
    const ms = nowMs() - t0;
    if (reply.type !== "subscribed") throw new Error(`subscribe refused: ${JSON.stringify(reply.error)}`);
    return { ms, ...c.state, recovered: reply.recovered === true };
  } finally {
    ws.close();
  }
}

serve({
  recover: (req: RecoverRequest) => (req.transport === "tailcast-sio" ? viaSocketIo(req) : viaWs(req)),
});
