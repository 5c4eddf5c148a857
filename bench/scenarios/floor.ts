/**
 * The bus floor: a bare insertOne publisher and one bare tailable awaitData reader per "node" (two,
 * like tailcast's two tailers, so the database carries the same number of cursors). Nothing between
 * the database and the reader: the least latency this design can have on this server.
 */
import type { ClientSpec } from "../clients/transports.ts";
import { startChild } from "../procs.ts";
import { type Rig, Stack, startClients, type Workload, watchOf } from "../rig.ts";
import { type BenchContext, cappedWithFiller, dbName, dropOnStop } from "./common.ts";

const COLLECTION = "floor";

export async function startFloor(ctx: BenchContext, asked: Workload): Promise<Rig> {
  const workload: Workload = { ...asked, clients: 2 };
  const stack = new Stack();
  try {
    const db = dbName(`floor_${workload.id}`);
    stack.add(dropOnStop(ctx.db.uri, db));
    await cappedWithFiller(ctx.db.uri, db, COLLECTION, ctx.options.busDocs, true);
    const all = Array.from({ length: workload.channels }, (_, i) => i);
    const groups: ClientSpec[][] = [0, 1].map((node) => [
      { transport: "mongo-reader", url: ctx.db.uri, node, channels: all, db, collection: COLLECTION },
    ]);
    const clients = await startClients(stack, "floor", groups);
    const publisher = stack.add(
      await startChild("floor-publisher", {
        script: "clients/publisher.ts",
        config: {
          kind: "insert",
          uri: ctx.db.uri,
          db,
          collection: COLLECTION,
          firstId: ctx.options.busDocs + 1,
          inFlight: 8,
        },
      }),
    );
    return {
      system: "floor",
      workload,
      watched: [
        ...watchOf("database", ctx.db),
        ...clients.flatMap((c, i) => watchOf(`reader-${i + 1}`, c)),
        ...watchOf("publisher", publisher),
      ],
      clients,
      publisher,
      fanout: 2,
      notes: async () => [],
      stop: () => stack.stop(),
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
