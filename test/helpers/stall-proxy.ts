/**
 * A TCP proxy in front of the database that can stop answering without closing anything: after
 * `stall()`, bytes are no longer passed on in either direction and new connections are accepted but
 * never connected through — a database that hangs (not one that is down), so queries wait forever.
 * `cut()` is a database that is down instead: every connection is closed, new ones at once. `heal()`
 * ends either: new connections pass again (one accepted while stalled stays unanswered).
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface StallProxy {
  uri: string;
  stall(): void;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startStallProxy(target: string): Promise<StallProxy> {
  const { hostname, port } = new URL(target);
  let stalled = false;
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    if (stalled) return; // accepted, never answered
    const upstream = connect(Number(port), hostname);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.on("data", (d) => {
      if (!stalled) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!stalled) client.write(d);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    uri: `mongodb://127.0.0.1:${address.port}/`,
    stall: () => {
      stalled = true;
    },
    cut: () => {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    heal: () => {
      cut = false;
      stalled = false;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
