/** What the scenarios share: the run's context, database names, buses filled to size, tailcast's env. */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type Document, MongoClient } from "mongodb";
import type { DevDb } from "../../infra/devdb/launcher.ts";
import type { ComponentOptions } from "../../infra/local/component.ts";
import { PADDING } from "../clients/payload.ts";
import type { BenchOptions } from "../options.ts";

export interface BenchContext {
  db: DevDb;
  options: BenchOptions;
  log(line: string): void;
  /** Absolute directory for this run's outputs (profiles). */
  outDir: string;
}

/** Bus size in bytes for every system: room for the document cap at the benchmark's message size. */
export const BUS_SIZE_BYTES = 64 * 1024 * 1024;

export function dbName(prefix: string): string {
  return `bench_${prefix.replace(/[^A-Za-z0-9]/g, "_")}_${randomBytes(3).toString("hex")}`;
}

export async function withMongo<T>(uri: string, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { directConnection: true, serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** A stoppable that drops the database: registered first in a Stack, so it runs last. */
export function dropOnStop(uri: string, db: string): { stop(): Promise<void> } {
  return {
    stop: () =>
      withMongo(uri, (c) =>
        c
          .db(db)
          .dropDatabase()
          .then(() => undefined),
      ),
  };
}

/**
 * A capped collection of `docs` documents (the same cap tailcast's bus gets), already full, as a bus
 * in use would be. `numericIds`: `_id` 1..docs, for the floor's reader that resumes after an `_id`.
 */
export async function cappedWithFiller(
  uri: string,
  db: string,
  collection: string,
  docs: number,
  numericIds: boolean,
): Promise<void> {
  await withMongo(uri, async (client) => {
    const coll = await client
      .db(db)
      .createCollection(collection, { capped: true, size: BUS_SIZE_BYTES, max: docs });
    for (let n = 1; n <= docs; ) {
      const batch: Document[] = [];
      for (let i = 0; i < 1000 && n <= docs; i++, n++) {
        const doc = { channel: "filler", event: "message", data: PADDING, n };
        batch.push(numericIds ? { _id: n, ...doc } : doc);
      }
      await coll.insertMany(batch, { ordered: true });
    }
  });
}

export function tailcastEnv(ctx: BenchContext, db: string): Record<string, string> {
  return {
    MONGODB_URI: ctx.db.uri,
    TAILCAST_DB: db,
    TAILCAST_AUTH: "off",
    TAILCAST_LOG_LEVEL: "warn",
    TAILCAST_BUS_MAX_DOCS: String(ctx.options.busDocs),
    TAILCAST_BUS_SIZE_BYTES: String(BUS_SIZE_BYTES),
    // The benchmark measures the system, not the per-key rate limit or the batch cap.
    TAILCAST_PUBLISH_RATE: "1000000",
    TAILCAST_MAX_BATCH: "1000",
    // A tailer stopped between scenarios (SIGTERM) drains over this window (README "Drain").
    TAILCAST_DRAIN_WINDOW_MS: "100",
  };
}

/** A component's start options: under `--cpu-prof` when profiling (written when the process exits). */
export function componentOptions(
  ctx: BenchContext,
  kind: ComponentOptions["kind"],
  db: string,
  label: string,
  env: Record<string, string> = {},
): ComponentOptions {
  return {
    kind,
    env: { ...tailcastEnv(ctx, db), ...(kind === "tailer" ? { TAILCAST_NODE_ID: label } : {}), ...env },
    ...(ctx.options.profile
      ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${join(ctx.outDir, "profiles", label)}`] }
      : {}),
  };
}

export function tailerOptions(
  ctx: BenchContext,
  db: string,
  label: string,
  env: Record<string, string> = {},
): ComponentOptions {
  return componentOptions(ctx, "tailer", db, label, env);
}

/**
 * Publishes `docs` messages to `channel` through the ingest function, 1,000 per request (filling a bus,
 * or writing what a recovery will replay); returns each message's position.
 */
export async function fillThroughIngest(
  ingestUrl: string,
  docs: number,
  channel = "filler",
): Promise<Array<{ offset: number; epoch: string }>> {
  const positions: Array<{ offset: number; epoch: string }> = [];
  for (let n = 0; n < docs; ) {
    const messages: Array<{ channel: string; data: unknown }> = [];
    for (let i = 0; i < 1000 && n < docs; i++, n++) messages.push({ channel, data: { n, p: PADDING } });
    const res = await fetch(`${ingestUrl}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages }),
    });
    if (res.status !== 201) throw new Error(`filling the bus: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { results: Array<{ offset: number; epoch: string }> };
    for (const r of body.results) positions.push({ offset: r.offset, epoch: r.epoch });
  }
  return positions;
}
