/**
 * Partitioned buses on this machine (README "Scaling out", docs/scale.md):
 * - reads: 3 tailers, 400 channels with one /ws subscriber each, the same messages published over all
 *   of them; with one bus every tailer reads every message, with 4 buses and clients placed by bus
 *   (the clients of bus b's channels on tailer b mod 3, affinity by bus) each tailer reads only its
 *   buses. Documents read per tailer come from each tailer's `/stats` `buses`.
 * - publish rate: one ingest process with 1, 2 and 4 buses, batches of 100 messages spread over the
 *   400 channels (so each request writes to every bus, in parallel), 32 requests in flight, for a fixed
 *   time; acknowledged messages per second. Single-message publishes would measure the ingest's HTTP
 *   path instead (docs/scale.md: about 1,000 per ingest core-second), the same for any number of buses.
 * On FerretDB every bus lives in one server process on one disk: the 2- and 4-bus rates are a lower
 * bound of what separate MongoDB deployments would take.
 */
import { startComponent } from "../../infra/local/component.ts";
import { busIndexOf } from "../../shared/bus/partition.ts";
import { channelName } from "../clients/payload.ts";
import type { RunResult } from "../clients/publisher.ts";
import type { ClientSpec } from "../clients/transports.ts";
import { startChild } from "../procs.ts";
import type { PartitionedResult } from "../results.ts";
import { Stack, startClients } from "../rig.ts";
import { type BenchContext, componentOptions, dbName, dropOnStop, tailerOptions } from "./common.ts";

const CHANNELS = 400;
const TAILERS = 3;
const READ_BUSES = [1, 4] as const;
const RATE_BUSES = [1, 2, 4] as const;
const SETTLE_MS = 2_000;
/** Publish rate: batches of this many messages over all channels, this many requests in flight. */
const BATCH = 100;
const IN_FLIGHT = 32;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface BusStats {
  index: number;
  read: number;
}

async function documentsRead(url: string): Promise<number[]> {
  const res = await fetch(`${url}/stats`);
  const body = (await res.json()) as { buses?: BusStats[] };
  if (!body.buses) throw new Error(`${url}/stats has no \`buses\`: this tailer predates partitioned buses`);
  return body.buses.map((b) => b.read);
}

export async function reads(
  ctx: BenchContext,
  buses: number,
  seconds: number,
): Promise<PartitionedResult["reads"]> {
  const stack = new Stack();
  try {
    const db = dbName(`partitioned_reads_${buses}`);
    stack.add(dropOnStop(ctx.db.uri, db));
    const env = { TAILCAST_BUSES: String(buses) };
    const ingest = stack.add(await startComponent(componentOptions(ctx, "functions", db, "ingest", env)));
    await ingest.ready();
    const tailers = [];
    for (let t = 0; t < TAILERS; t++) {
      tailers.push(stack.add(await startComponent(tailerOptions(ctx, db, `partitioned-${buses}-${t}`, env))));
    }
    await Promise.all(tailers.map((t) => t.ready()));
    // One bus: clients dealt round robin (no affinity helps). Several: the client of a channel in bus b
    // goes to tailer b mod 3.
    const groups: ClientSpec[][] = tailers.map(() => []);
    for (let c = 0; c < CHANNELS; c++) {
      const t = buses === 1 ? c % TAILERS : busIndexOf(channelName(c), buses) % TAILERS;
      groups[t]?.push({
        transport: "tailcast-ws",
        url: (tailers[t] as { url: string }).url,
        node: t,
        channels: [c],
      });
    }
    await startClients(stack, `partitioned-${buses}`, groups);
    const before = await Promise.all(tailers.map((t) => documentsRead(t.url)));
    const publisher = stack.add(
      await startChild(`partitioned-publisher-${buses}`, {
        script: "clients/publisher.ts",
        config: { kind: "http", urls: [ingest.url], inFlight: 16 },
      }),
    );
    const r = await publisher.request<RunResult>(
      "run",
      {
        step: 1,
        rate: 400,
        durationMs: seconds * 1000,
        channels: CHANNELS,
        deadlineMs: seconds * 1000 + 10_000,
      },
      seconds * 1000 + 60_000,
    );
    const published = r.sent.reduce((a, b) => a + b, 0) - r.failed.reduce((a, f) => a + f.length, 0);
    await sleep(SETTLE_MS);
    const after = await Promise.all(tailers.map((t) => documentsRead(t.url)));
    return tailers.map((_, t) => {
      const perBus = (after[t] ?? []).map((n, b) => n - (before[t]?.[b] ?? 0));
      const read = perBus.reduce((a, b) => a + b, 0);
      ctx.log(
        `  ${buses} bus${buses === 1 ? "" : "es"}, tailer ${t}: read ${read} of ${published} published` +
          ` (per bus ${perBus.join(", ")})`,
      );
      return { buses, tailer: t, read, perBus, published };
    });
  } finally {
    await stack.stop();
  }
}

export async function publishRate(ctx: BenchContext, buses: number, seconds: number): Promise<number> {
  const stack = new Stack();
  try {
    const db = dbName(`partitioned_rate_${buses}`);
    stack.add(dropOnStop(ctx.db.uri, db));
    const env = { TAILCAST_BUSES: String(buses) };
    const ingest = stack.add(await startComponent(componentOptions(ctx, "functions", db, "ingest", env)));
    await ingest.ready();
    const publisher = stack.add(
      await startChild(`partitioned-rate-${buses}`, {
        script: "clients/publisher.ts",
        config: { kind: "http", urls: [ingest.url], inFlight: 64 },
      }),
    );
    // A short unmeasured run first: every bus is set up on its first publish.
    type Flood = { acked: number; failed: number; elapsedMs: number };
    const flood = (step: number, ms: number) =>
      publisher.request<Flood>(
        "flood",
        { step, durationMs: ms, channels: CHANNELS, batch: BATCH, inFlight: IN_FLIGHT },
        ms + 60_000,
      );
    await flood(1, 1000);
    const r = await flood(2, seconds * 1000);
    const rate = (r.acked * 1000) / r.elapsedMs;
    ctx.log(
      `  ${buses} bus${buses === 1 ? "" : "es"}: ${Math.round(rate)} messages/s acknowledged` +
        (r.failed > 0 ? ` (${r.failed} refused)` : ""),
    );
    return rate;
  } finally {
    await stack.stop();
  }
}

export async function runPartitioned(ctx: BenchContext): Promise<PartitionedResult> {
  const seconds = ctx.options.mode === "quick" ? 3 : 5;
  const result: PartitionedResult = { reads: [], publish: [] };
  for (const buses of READ_BUSES) result.reads.push(...(await reads(ctx, buses, seconds)));
  for (const buses of RATE_BUSES)
    result.publish.push({ buses, rate: await publishRate(ctx, buses, seconds) });
  return result;
}
