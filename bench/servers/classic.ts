/**
 * The classic prototype tailcast replaces, kept faithful on purpose, flaws included: every node
 * tails the capped collection from its start with the driver's tailable cursor and `io.emit`s every
 * document to every connected client. It replays whatever the collection holds when it starts, sends
 * each client every channel, and when the cursor ends (or dies) it does not re-open: that node goes
 * silent. The benchmark measures what this does; it is not a design to copy.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { MongoClient } from "mongodb";
import { Server } from "socket.io";
import { childConfig, serve } from "../child.ts";

interface ClassicConfig {
  uri: string;
  db: string;
  collection: string;
}

const config = childConfig<ClassicConfig>();
const client = new MongoClient(config.uri, { directConnection: true });
await client.connect();
const http = createServer();
const io = new Server(http);
http.listen(0, "127.0.0.1");
await new Promise((r) => http.once("listening", r));

const stats = { emitted: 0, cursorEnded: null as string | null };
const cursor = client
  .db(config.db)
  .collection(config.collection)
  .find({}, { tailable: true, awaitData: true });
void (async () => {
  try {
    for await (const doc of cursor) {
      io.emit("message", doc);
      stats.emitted++;
    }
    stats.cursorEnded = "cursor closed";
  } catch (err) {
    stats.cursorEnded = err instanceof Error ? err.message : String(err);
  }
})();

serve(
  {
    port: () => (http.address() as AddressInfo).port,
    stats: () => stats,
  },
  async () => {
    io.close();
    await client.close();
  },
);
