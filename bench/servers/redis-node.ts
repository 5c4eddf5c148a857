/**
 * What users pick instead of tailcast: a Socket.IO node clustered with @socket.io/redis-adapter.
 * A client joins a room per channel; publishers reach every node through Redis with
 * @socket.io/redis-emitter (bench/clients/publisher.ts).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { childConfig, serve } from "../child.ts";

const { redisUrl } = childConfig<{ redisUrl: string }>();
const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub) });
io.on("connection", (socket) => {
  socket.on("subscribe", (channel: unknown, ack: unknown) => {
    if (typeof channel === "string") void socket.join(channel);
    if (typeof ack === "function") ack(true);
  });
});
http.listen(0, "127.0.0.1");
await new Promise((r) => http.once("listening", r));

serve({ port: () => (http.address() as AddressInfo).port }, async () => {
  io.close();
  await Promise.allSettled([pub.quit(), sub.quit()]);
});
