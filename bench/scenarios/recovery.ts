/**
 * Recovery cost: a client that missed the last k messages of a channel subscribes with `since` and is
 * timed until its ack (every missed message comes first). The bus holds `busDocs` messages of other
 * channels plus the largest k of this one, so a cost that follows the bus rather than k shows.
 * Two paths: a node that saw the messages replays them from its memory window, a node started after
 * them reads the bus.
 */
import { type Component, startComponent } from "../../infra/local/component.ts";
import type { RecoverRequest, RecoverResult } from "../clients/recovery.ts";
import { startChild } from "../procs.ts";
import type { RecoveryResult } from "../results.ts";
import { Stack } from "../rig.ts";
import { median } from "../stats.ts";
import {
  type BenchContext,
  dbName,
  dropOnStop,
  fillThroughIngest,
  tailcastEnv,
  tailerOptions,
} from "./common.ts";

const CHANNEL = "bench-recovery";
/** A tailer's start reads the newest offset and opens its cursor; on a large bus that may take a while. */
const READY_MS = 120_000;
const SLOW_MS = 5000;

async function caughtUp(tailer: Component, offset: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = (await (await fetch(`${tailer.url}/stats`)).json()) as {
      tail: { position: { offset: number } | null } | null;
    };
    if ((stats.tail?.position?.offset ?? -1) >= offset) return;
    if (Date.now() > deadline) throw new Error(`tailer did not reach offset ${offset} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function runRecovery(ctx: BenchContext): Promise<RecoveryResult[]> {
  const { options } = ctx;
  const results: RecoveryResult[] = [];
  const budgetMs = options.mode === "quick" ? 60_000 : 180_000;
  const kMax = Math.max(...options.recoveryK);
  const stack = new Stack();
  try {
    const db = dbName("recovery");
    stack.add(dropOnStop(ctx.db.uri, db));
    const env = { ...tailcastEnv(ctx, db), TAILCAST_BUS_MAX_DOCS: String(options.busDocs + kMax + 1000) };
    const ingest = stack.add(await startComponent({ kind: "functions", env }));
    await ingest.ready();
    const seen = stack.add(await startComponent(tailerOptions(ctx, db, "recovery-window", env)));
    await seen.ready(READY_MS);
    ctx.log(`  publishing ${options.busDocs} messages of other channels, then ${kMax} of ${CHANNEL}`);
    await fillThroughIngest(ingest.url, options.busDocs);
    const mine = await fillThroughIngest(ingest.url, kMax, CHANNEL);
    const lastOffset = (mine.at(-1) as { offset: number }).offset;
    await caughtUp(seen, lastOffset, 120_000);
    const fresh = stack.add(await startComponent(tailerOptions(ctx, db, "recovery-bus", env)));
    const t0 = Date.now();
    await fresh.ready(READY_MS);
    ctx.log(`  a tailer started on this bus was ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const client = stack.add(
      await startChild("recovery-client", { script: "clients/recovery.ts", config: {} }),
    );
    const started = Date.now();
    const transports =
      options.mode === "quick" ? (["tailcast-sio"] as const) : (["tailcast-sio", "tailcast-ws"] as const);
    for (const [path, node] of [
      ["window", seen],
      ["bus", fresh],
    ] as const) {
      for (const transport of transports) {
        for (const k of options.recoveryK) {
          const first = mine[kMax - k] as { offset: number; epoch: string };
          const since = { offset: first.offset - 1, epoch: first.epoch };
          const result: RecoveryResult = {
            path,
            transport,
            k,
            busDocs: options.busDocs + kMax,
            ms: [],
            medianMs: Number.NaN,
            exact: true,
          };
          try {
            for (let rep = 0; rep < options.recoveryRepeats; rep++) {
              // A slow replay is measured once: repeating it would only spend the run's time budget.
              if (rep > 0 && ((result.ms[0] ?? 0) > SLOW_MS || Date.now() - started > budgetMs)) break;
              if (Date.now() - started > budgetMs)
                throw new Error("skipped: over the scenario's time budget");
              const req: RecoverRequest = {
                url: node.url,
                transport,
                channel: CHANNEL,
                since,
                timeoutMs: 120_000,
              };
              const r = await client.request<RecoverResult>("recover", req, 130_000);
              result.ms.push(r.ms);
              if (r.received !== k || !r.inOrder || !r.recovered) {
                result.exact = false;
                result.error = `received ${r.received} of ${k}${r.inOrder ? "" : ", out of order"}${r.recovered ? "" : ", recovered: false"}`;
              }
            }
          } catch (err) {
            result.error = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
          }
          result.medianMs = median(result.ms);
          results.push(result);
          ctx.log(
            `  ${path.padEnd(6)} ${transport.padEnd(12)} k=${String(k).padStart(5)}: ` +
              `${Number.isNaN(result.medianMs) ? "—" : `${result.medianMs.toFixed(1)} ms`}${result.error ? ` (${result.error})` : ""}`,
          );
        }
      }
    }
  } catch (err) {
    ctx.log(`  failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  } finally {
    await stack.stop();
  }
  return results;
}
