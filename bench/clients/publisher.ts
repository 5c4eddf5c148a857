/**
 * A publisher process, one per system: tailcast by HTTP keep-alive to the ingest function, the bus
 * floor and the classic prototype by the driver's insertOne, the Redis adapter by its emitter.
 * Messages of one channel go out in sequence order; only tailcast may store concurrent requests in
 * another order, which its subscribers check by offset instead.
 */
import { Agent, request } from "node:http";
import { Emitter } from "@socket.io/redis-emitter";
import { MongoClient } from "mongodb";
import { createClient } from "redis";
import { childConfig, nowMs, serve } from "../child.ts";
import { type Summary, summarize } from "../stats.ts";
import { paced } from "./pacing.ts";
import { type BenchPayload, channelName, PADDING } from "./payload.ts";
import type { StepTotals } from "./recorder.ts";

export type PublisherConfig =
  | { kind: "http"; urls: string[]; inFlight: number }
  | { kind: "insert"; uri: string; db: string; collection: string; firstId?: number; inFlight: number }
  | { kind: "redis-emitter"; redisUrl: string };

export interface RunRequest {
  step: number;
  rate: number;
  durationMs: number;
  channels: number;
  deadlineMs: number;
}

export interface RunResult {
  sent: number[];
  failed: number[][];
  elapsedMs: number;
  /** Acknowledged messages per second over the time it took. */
  achievedRate: number;
  ack: Summary;
  errors: string[];
}

type Send = (channel: number, payload: BenchPayload) => Promise<void>;

const config = childConfig<PublisherConfig>();

async function setup(): Promise<{
  send: Send;
  batch?: (channel: number, payloads: BenchPayload[]) => Promise<void>;
  /** One request with messages for several channels (each payload's own `c`). */
  mixed?: (payloads: BenchPayload[]) => Promise<void>;
  close(): Promise<void>;
}> {
  if (config.kind === "http") {
    const agent = new Agent({ keepAlive: true, maxSockets: config.inFlight });
    let turn = 0;
    const post = (path: string, body: string) =>
      new Promise<void>((resolve, reject) => {
        const base = config.urls[turn++ % config.urls.length] as string;
        const req = request(
          `${base}${path}`,
          {
            method: "POST",
            agent,
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              res.statusCode === 201
                ? resolve()
                : reject(new Error(`${res.statusCode} ${Buffer.concat(chunks).toString()}`)),
            );
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    return {
      send: (c, payload) =>
        post(`/v1/channels/${channelName(c)}/messages`, JSON.stringify({ event: "message", data: payload })),
      batch: (c, payloads) =>
        post(
          "/v1/messages",
          JSON.stringify({
            messages: payloads.map((data) => ({ channel: channelName(c), event: "message", data })),
          }),
        ),
      mixed: (payloads) =>
        post(
          "/v1/messages",
          JSON.stringify({
            messages: payloads.map((data) => ({ channel: channelName(data.c), event: "message", data })),
          }),
        ),
      close: async () => agent.destroy(),
    };
  }
  if (config.kind === "insert") {
    // One connection: concurrent inserts queue in order behind it, so natural order is send order.
    const client = new MongoClient(config.uri, { directConnection: true, maxPoolSize: 1 });
    await client.connect();
    const coll = client.db(config.db).collection(config.collection);
    let id = config.firstId ?? 0;
    return {
      send: async (c, payload) => {
        const doc = { channel: channelName(c), event: "message", ...payload };
        await coll.insertOne(config.firstId === undefined ? doc : { _id: id++ as never, ...doc });
      },
      close: () => client.close(),
    };
  }
  const redis = createClient({ url: config.redisUrl });
  await redis.connect();
  const emitter = new Emitter(redis);
  return {
    send: async (c, payload) => {
      emitter.to(channelName(c)).emit("message", payload);
    },
    close: async () => {
      await redis.quit();
    },
  };
}

const io = await setup();

async function run(req: RunRequest): Promise<RunResult> {
  const total = Math.round((req.rate * req.durationMs) / 1000);
  const seqs = new Array<number>(req.channels).fill(0);
  const channelOf: number[] = [];
  const seqOf: number[] = [];
  const inFlight = config.kind === "redis-emitter" ? 1 : config.inFlight;
  const out = await paced(total, req.rate, inFlight, req.deadlineMs, (i) => {
    const c = i % req.channels;
    const q = seqs[c] as number;
    seqs[c] = q + 1;
    channelOf[i] = c;
    seqOf[i] = q;
    return io.send(c, { s: req.step, c, q, t: nowMs(), p: PADDING });
  });
  const failed: number[][] = Array.from({ length: req.channels }, () => []);
  for (const i of out.failed) failed[channelOf[i] as number]?.push(seqOf[i] as number);
  const acked = out.sent - out.failed.length;
  return {
    sent: seqs,
    failed,
    elapsedMs: out.elapsedMs,
    achievedRate: out.elapsedMs > 0 ? (acked * 1000) / out.elapsedMs : 0,
    ack: summarize(out.ackMs),
    errors: out.errors,
  };
}

/** Fan-out: `count` messages into one channel as fast as the ingest takes batches of `batch`. */
async function burst(req: { step: number; count: number; channel: number; batch: number }) {
  if (!io.batch) throw new Error("burst needs the http publisher");
  const started = nowMs();
  let q = 0;
  while (q < req.count) {
    const payloads: BenchPayload[] = [];
    for (let i = 0; i < req.batch && q < req.count; i++, q++)
      payloads.push({ s: req.step, c: req.channel, q, t: nowMs(), p: PADDING });
    await io.batch(req.channel, payloads);
  }
  return { sent: q, elapsedMs: nowMs() - started };
}

/**
 * As many messages as `inFlight` concurrent batch requests of `batch` messages take in `durationMs`,
 * each batch spread over `channels` channels round robin (with several buses, one request writes to
 * several buses). Returns the acknowledged count; a refused request counts nothing.
 */
async function flood(req: {
  step: number;
  durationMs: number;
  channels: number;
  batch: number;
  inFlight: number;
}) {
  if (!io.mixed) throw new Error("flood needs the http publisher");
  const mixed = io.mixed;
  const started = nowMs();
  const seqs = new Array<number>(req.channels).fill(0);
  let n = 0;
  let acked = 0;
  let failed = 0;
  const loop = async () => {
    while (nowMs() - started < req.durationMs) {
      const payloads: BenchPayload[] = [];
      for (let i = 0; i < req.batch; i++, n++) {
        const c = n % req.channels;
        const q = seqs[c] as number;
        seqs[c] = q + 1;
        payloads.push({ s: req.step, c, q, t: nowMs(), p: PADDING });
      }
      try {
        await mixed(payloads);
        acked += payloads.length;
      } catch {
        failed += payloads.length;
      }
    }
  };
  await Promise.all(Array.from({ length: req.inFlight }, loop));
  return { acked, failed, elapsedMs: nowMs() - started };
}

export interface StreamRequest {
  step: number;
  channel: number;
  /** Messages per second. */
  rate: number;
  /** Characters of padding per message. */
  bytes: number;
  /** Messages per request. */
  batch: number;
  /** Requests in flight at most. */
  inFlight: number;
  durationMs: number;
}

export interface StreamResult {
  /** The step's totals, as a RunResult gives them (channel `channel`; the others empty). */
  totals: StepTotals;
  elapsedMs: number;
  /** Padding bytes acknowledged per second. */
  bytesPerSec: number;
  errors: string[];
}

/**
 * Bulk load: `rate` messages per second of `bytes` characters each into one channel, in requests of
 * `batch` messages, at most `inFlight` at once, for `durationMs`. Each message is a BenchPayload of `step`, so
 * subscribers check its order, loss and duplicates like any other.
 */
async function stream(req: StreamRequest): Promise<StreamResult> {
  const batch = io.batch;
  if (!batch) throw new Error("stream needs the http publisher");
  const padding = "x".repeat(req.bytes);
  const batches = Math.round((req.rate * req.durationMs) / 1000 / req.batch);
  const out = await paced(batches, req.rate / req.batch, req.inFlight, req.durationMs * 1.5 + 5000, (i) =>
    batch(
      req.channel,
      Array.from({ length: req.batch }, (_, k) => ({
        s: req.step,
        c: req.channel,
        q: i * req.batch + k,
        t: nowMs(),
        p: padding,
      })),
    ),
  );
  const sent = new Array<number>(req.channel + 1).fill(0);
  const failed: number[][] = Array.from({ length: req.channel + 1 }, () => []);
  sent[req.channel] = out.sent * req.batch;
  for (const i of out.failed)
    for (let k = 0; k < req.batch; k++) failed[req.channel]?.push(i * req.batch + k);
  const acked = (out.sent - out.failed.length) * req.batch;
  return {
    totals: { sent, failed },
    elapsedMs: out.elapsedMs,
    bytesPerSec: out.elapsedMs > 0 ? (acked * req.bytes * 1000) / out.elapsedMs : 0,
    errors: out.errors,
  };
}

serve({ run, burst, flood, stream }, () => io.close());
