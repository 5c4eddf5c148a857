/**
 * tailcast as deployed: one ingest function, two tailer nodes (started as the tests start them,
 * infra/local/component.ts), publishing by HTTP keep-alive, Socket.IO and /ws subscribers on both
 * nodes. Latency is kept per node: a message is published to neither, so each node's number is the
 * cross-node latency of a fleet.
 */
import { startComponent } from "../../infra/local/component.ts";
import { startChild } from "../procs.ts";
import { type Rig, Stack, spread, startClients, type Workload, watchOf } from "../rig.ts";
import {
  type BenchContext,
  componentOptions,
  dbName,
  dropOnStop,
  fillThroughIngest,
  tailerOptions,
} from "./common.ts";

export async function startTailcast(ctx: BenchContext, workload: Workload): Promise<Rig> {
  const stack = new Stack();
  try {
    const db = dbName(`tailcast_${workload.id}`);
    stack.add(dropOnStop(ctx.db.uri, db));
    const ingest = stack.add(
      await startComponent(componentOptions(ctx, "functions", db, `ingest-${workload.id}`)),
    );
    await ingest.ready();
    // Full before the tailers start: they begin at the live end, as a restarted node would.
    await fillThroughIngest(ingest.url, ctx.options.busDocs);
    const tailers = await Promise.all(
      [1, 2].map(async (i) =>
        stack.add(await startComponent(tailerOptions(ctx, db, `tailer-${i}-${workload.id}`))),
      ),
    );
    await Promise.all(tailers.map((t) => t.ready()));
    // Alternate transports in pairs, so each node and each channel gets both kinds.
    const groups = spread(
      workload.clients,
      tailers.map((t) => t.url),
      workload.channels,
      (i) => (Math.floor(i / 2) % 2 === 0 ? "tailcast-sio" : "tailcast-ws"),
    );
    const clients = await startClients(stack, "tailcast", groups);
    const publisher = stack.add(
      await startChild("tailcast-publisher", {
        script: "clients/publisher.ts",
        config: { kind: "http", urls: [ingest.url], inFlight: 32 },
      }),
    );
    return {
      system: "tailcast",
      workload,
      watched: [
        ...watchOf("database", ctx.db),
        ...watchOf("ingest", ingest),
        ...tailers.flatMap((t, i) => watchOf(`tailer-${i + 1}`, t)),
        ...clients.flatMap((c, i) => watchOf(`clients-${i + 1}`, c)),
        ...watchOf("publisher", publisher),
      ],
      clients,
      publisher,
      fanout: workload.clients / workload.channels,
      notes: async () => {
        const notes: string[] = [];
        for (const [i, t] of tailers.entries()) {
          const stats = (await (await fetch(`${t.url}/stats`)).json()) as {
            tail: { reopens: number; gaps: number; missed: number; refilled: number } | null;
          };
          if (stats.tail) {
            const { reopens, gaps, missed, refilled } = stats.tail;
            notes.push(
              `tailer-${i + 1}: ${reopens} cursor re-opens, ${refilled} refilled, ${gaps} gaps (${missed} missed)`,
            );
          }
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
