/**
 * The classic prototype (bench/servers/classic.ts) on two nodes over the same kind of full capped
 * collection, publishing by insertOne. Its clients get every channel and keep what they asked for.
 */
import type { BenchChild } from "../procs.ts";
import { startChild } from "../procs.ts";
import { type Rig, Stack, spread, startClients, type Workload, watchOf } from "../rig.ts";
import { type BenchContext, cappedWithFiller, dbName, dropOnStop } from "./common.ts";

const COLLECTION = "messages";

export async function startClassic(ctx: BenchContext, workload: Workload): Promise<Rig> {
  const stack = new Stack();
  try {
    const db = dbName(`classic_${workload.id}`);
    stack.add(dropOnStop(ctx.db.uri, db));
    await cappedWithFiller(ctx.db.uri, db, COLLECTION, ctx.options.busDocs, false);
    const nodes: BenchChild[] = [];
    for (const i of [1, 2]) {
      nodes.push(
        stack.add(
          await startChild(`classic-${i}`, {
            script: "servers/classic.ts",
            config: { uri: ctx.db.uri, db, collection: COLLECTION },
          }),
        ),
      );
    }
    const urls = await Promise.all(
      nodes.map(async (n) => `http://127.0.0.1:${await n.request<number>("port")}`),
    );
    const groups = spread(workload.clients, urls, workload.channels, () => "classic-sio");
    const clients = await startClients(stack, "classic", groups);
    const publisher = stack.add(
      await startChild("classic-publisher", {
        script: "clients/publisher.ts",
        config: { kind: "insert", uri: ctx.db.uri, db, collection: COLLECTION, inFlight: 8 },
      }),
    );
    return {
      system: "classic",
      workload,
      watched: [
        ...watchOf("database", ctx.db),
        ...nodes.flatMap((n, i) => watchOf(`node-${i + 1}`, n)),
        ...clients.flatMap((c, i) => watchOf(`clients-${i + 1}`, c)),
        ...watchOf("publisher", publisher),
      ],
      clients,
      publisher,
      fanout: workload.clients / workload.channels,
      notes: async () => {
        const notes: string[] = [];
        for (const [i, n] of nodes.entries()) {
          const s = await n.request<{ emitted: number; cursorEnded: string | null }>("stats");
          notes.push(
            `node-${i + 1}: emitted ${s.emitted} documents${s.cursorEnded ? `; cursor ended (${s.cursorEnded}), never re-opened` : ""}`,
          );
        }
        return notes;
      },
      stop: () => stack.stop(),
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
