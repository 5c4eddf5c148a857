/**
 * A writer process for bench/capacity/bus-rate.ts: tailcast's own BusWriter (shared/bus/append.ts, group
 * commit) on one bus, set up as the ingest function sets it up (functions/runtime.ts), kept busy by
 * `inFlight` concurrent appends of `batch` messages each — what an ingest instance under load does,
 * without HTTP in front.
 */
import { BusWriter } from "../../shared/bus/append.ts";
import { ensureBus } from "../../shared/bus/collection.ts";
import { createMongo } from "../../shared/mongo.ts";
import { childConfig, serve } from "../child.ts";
import { PADDING } from "../clients/payload.ts";

export interface BusWriterConfig {
  uri: string;
  db: string;
  collection: string;
  maxDocs: number;
  sizeBytes: number;
}

export interface WriteRequest {
  durationMs: number;
  inFlight: number;
  batch: number;
  /** Channel names written round robin. */
  channels: string[];
}

export interface WriteResult {
  messages: number;
  /** Inserts the group commit formed (messages / inserts = messages per insert). */
  groups: number;
  conflicts: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
}

const config = childConfig<BusWriterConfig>();
const mongo = createMongo(config.uri, config.db, "tailcast-bench-bus-writer");
const bus = await ensureBus(await mongo.db(), {
  collection: config.collection,
  sizeBytes: config.sizeBytes,
  maxDocs: config.maxDocs,
});

async function write(req: WriteRequest): Promise<WriteResult> {
  let groups = 0;
  let conflicts = 0;
  const writer = new BusWriter(async () => bus, {
    // The ingest's defaults (shared/config.ts): majority, the same bounds.
    writeConcern: { w: "majority", wtimeoutMS: 10_000 },
    maxDocsPerInsert: 1000,
    maxAttempts: 100,
    timeoutMs: 10_000,
    maxQueuedDocs: 100_000,
    observer: { grouped: () => groups++, conflicted: () => conflicts++ },
  });
  const started = performance.now();
  const end = started + req.durationMs;
  let messages = 0;
  let errors = 0;
  let firstError: string | null = null;
  let n = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const batch = Array.from({ length: req.batch }, () => {
        const channel = req.channels[n++ % req.channels.length] as string;
        return { channel, event: "message", data: JSON.stringify({ n, p: PADDING }) };
      });
      try {
        // Awaited first: `messages += await …` would read `messages` before the await and lose updates.
        const appended = await writer.append(batch);
        messages += appended.length;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: req.inFlight }, loop));
  await writer.idle();
  return { messages, groups, conflicts, errors, firstError, elapsedMs: performance.now() - started };
}

serve({ write }, () => mongo.close());
