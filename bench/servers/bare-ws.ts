/**
 * The fan-out ceiling: a bare `ws` server that encodes each message once and sends the same bytes to
 * every connected client — the least any WebSocket fan-out in Node can do per delivery.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { childConfig, nowMs, serve } from "../child.ts";
import { PADDING } from "../clients/payload.ts";

childConfig<Record<string, never>>();
const http = createServer();
const wss = new WebSocketServer({ server: http });
http.listen(0, "127.0.0.1");
await new Promise((r) => http.once("listening", r));

/** Messages per event-loop turn, like a tail batch: the loop stays responsive during a burst. */
const PER_TURN = 100;

async function burst(req: { step: number; count: number; channel: number }) {
  const started = nowMs();
  for (let q = 0; q < req.count; ) {
    for (let i = 0; i < PER_TURN && q < req.count; i++, q++) {
      const frame = Buffer.from(JSON.stringify({ s: req.step, c: req.channel, q, t: nowMs(), p: PADDING }));
      for (const ws of wss.clients) if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: false });
    }
    await new Promise((r) => setImmediate(r));
  }
  return { sent: req.count, elapsedMs: nowMs() - started };
}

serve(
  {
    port: () => (http.address() as AddressInfo).port,
    clients: () => wss.clients.size,
    burst,
  },
  () => {
    for (const ws of wss.clients) ws.terminate();
    http.close();
  },
);
