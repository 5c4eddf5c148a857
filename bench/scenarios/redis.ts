/**
 * Socket.IO's Redis adapter: Debian's redis-server on a free loopback port with no persistence,
 * two Socket.IO nodes (bench/servers/redis-node.ts), publishing with the Redis emitter.
 */
import { spawnSync } from "node:child_process";
import { createClient } from "redis";
import { freePort } from "../../infra/devdb/launcher.ts";
import { spawnServer } from "../../infra/devdb/server-process.ts";
import type { BenchChild } from "../procs.ts";
import { startChild } from "../procs.ts";
import { type Rig, Stack, spread, startClients, type Workload, watchOf } from "../rig.ts";
import type { BenchContext } from "./common.ts";

/** Why the scenario cannot run here, or null. */
export function redisUnavailable(): string | null {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { stdio: "ignore" }).status === 0;
  return found ? null : "redis-server is not installed (Debian: apt-get install -y redis-server)";
}

async function waitForRedis(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.ping();
      await client.quit();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer at ${url}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startRedis(ctx: BenchContext, workload: Workload): Promise<Rig> {
  const stack = new Stack();
  try {
    const port = await freePort();
    const server = stack.add(
      await spawnServer("redis-server", [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ]),
    );
    const redisUrl = `redis://127.0.0.1:${port}`;
    await waitForRedis(redisUrl);
    const nodes: BenchChild[] = [];
    for (const i of [1, 2]) {
      nodes.push(
        stack.add(
          await startChild(`redis-node-${i}`, { script: "servers/redis-node.ts", config: { redisUrl } }),
        ),
      );
    }
    const urls = await Promise.all(
      nodes.map(async (n) => `http://127.0.0.1:${await n.request<number>("port")}`),
    );
    const groups = spread(workload.clients, urls, workload.channels, () => "redis-sio");
    const clients = await startClients(stack, "redis", groups);
    const publisher = stack.add(
      await startChild("redis-publisher", {
        script: "clients/publisher.ts",
        config: { kind: "redis-emitter", redisUrl },
      }),
    );
    return {
      system: "redis",
      workload,
      watched: [
        ...watchOf("database", ctx.db),
        ...watchOf("redis-server", server),
        ...nodes.flatMap((n, i) => watchOf(`node-${i + 1}`, n)),
        ...clients.flatMap((c, i) => watchOf(`clients-${i + 1}`, c)),
        ...watchOf("publisher", publisher),
      ],
      clients,
      publisher,
      fanout: workload.clients / workload.channels,
      notes: async () => [],
      stop: () => stack.stop(),
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
