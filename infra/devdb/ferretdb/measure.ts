/**
 * What the FerretDB patch (README.md here) changes, measured on whichever binary the launcher resolves:
 *   npx tsx infra/devdb/ferretdb/measure.ts [--sizes=1000,20000] [--idle-s=5] [--stream-s=10] [--rate=50]
 *   TAILCAST_FERRETDB_BIN=<unpatched ferretdb> npx tsx infra/devdb/ferretdb/measure.ts   # before
 * Per bus size, on a fresh server: two idle tailable awaitData cursors (raw-tail.ts, maxTimeMS 1000) keep
 * polling; the server's CPU over an idle period; the latency of a newest-document read sorted by
 * {$natural: -1} and by {offset: -1}; then a third bare reader's end-to-end latency while one writer inserts
 * `rate` documents per second, and how many it had 3 s after the last insert. Timing varies with machine
 * load: compare runs made one after the other.
 */
import { MongoClient } from "mongodb";
import { startFerretDB } from "../launcher.ts";
import { cpuSeconds } from "../process-cpu.ts";
import { rawTail } from "./raw-tail.ts";

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const sizes = arg("sizes", "1000,20000").split(",").map(Number);
const idleSeconds = Number(arg("idle-s", "5"));
const streamSeconds = Number(arg("stream-s", "10"));
const rate = Number(arg("rate", "50"));

const COLLECTION = "bus";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
const ms = (n: number) => `${n.toFixed(1)} ms`;

function busDoc(offset: number) {
  return {
    offset,
    epoch: "measure",
    channel: `c${offset % 10}`,
    kind: "message",
    ts: new Date(),
    data: "x".repeat(100),
  };
}

async function timeReads(read: () => Promise<unknown>, n = 11): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await read();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

async function measure(size: number): Promise<void> {
  const server = await startFerretDB({ log: () => {} });
  const clients = [0, 1, 2, 3].map(() => new MongoClient(server.uri));
  const [main, ...tailClients] = clients as [MongoClient, ...MongoClient[]];
  const db = (c: MongoClient) => c.db("measure");
  const idle: ReturnType<typeof rawTail>[] = [];
  try {
    await db(main).createCollection(COLLECTION, { capped: true, size: 1 << 30, max: size });
    const bus = db(main).collection(COLLECTION);
    for (let i = 0; i < size; i += 1000) {
      await bus.insertMany(Array.from({ length: Math.min(1000, size - i) }, (_, k) => busDoc(i + k)));
    }
    const from = size - 1;
    for (const c of tailClients.slice(0, 2)) {
      idle.push(
        rawTail(db(c), { collection: COLLECTION, from, awaitMs: 1000, batchSize: 1000, onBatch() {} }),
      );
    }
    while (idle.some((t) => t.getMores < 2)) await sleep(50); // both cursors are in their polling loop

    const pid = server.pid as number;
    const cpu0 = cpuSeconds(pid);
    const wall0 = performance.now();
    await sleep(idleSeconds * 1000);
    const idleCores = (cpuSeconds(pid) - cpu0) / ((performance.now() - wall0) / 1000);

    const natural = await timeReads(() => bus.find({}).sort({ $natural: -1 }).limit(1).toArray());
    const byOffset = await timeReads(() => bus.find({}).sort({ offset: -1 }).limit(1).toArray());

    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    let duplicates = 0;
    const total = Math.round(rate * streamSeconds);
    const reader = rawTail(db(tailClients[2] as MongoClient), {
      collection: COLLECTION,
      from,
      awaitMs: 1000,
      batchSize: 1000,
      onBatch(docs) {
        const now = performance.now();
        for (const d of docs) {
          const sent = sentAt.get(d.offset as number);
          if (sent === undefined) continue;
          if (sent < 0) duplicates++;
          else latencies.push(now - sent);
          sentAt.set(d.offset as number, -1);
        }
      },
    });
    while (reader.getMores < 1) await sleep(20);
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
      sentAt.set(size + i, performance.now());
      await bus.insertOne(busDoc(size + i));
    }
    const lastInsert = performance.now();
    while (latencies.length < total && performance.now() - lastInsert < 3000) await sleep(20);
    await reader.stop();
    latencies.sort((a, b) => a - b);
    console.log(
      [
        `${size} docs, ${server.patchedFerretDB ? "patched" : "unpatched"} FerretDB:`,
        `  idle CPU with 2 awaitData cursors: ${(idleCores * 100).toFixed(0)}% of a core`,
        `  newest read sort {$natural: -1}: median ${ms(quantile(natural, 0.5))}, max ${ms(natural.at(-1) ?? 0)}`,
        `  newest read sort {offset: -1}:   median ${ms(quantile(byOffset, 0.5))}, max ${ms(byOffset.at(-1) ?? 0)}`,
        `  bare reader, ${rate} msg/s for ${streamSeconds} s: ${latencies.length}/${total} delivered within 3 s` +
          ` of the last insert; p50 ${ms(quantile(latencies, 0.5))}, p99 ${ms(quantile(latencies, 0.99))},` +
          ` max ${ms(latencies.at(-1) ?? Number.NaN)}; ${duplicates} delivered twice`,
      ].join("\n"),
    );
  } finally {
    await Promise.all(idle.map((t) => t.stop()));
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
  }
}

for (const size of sizes) await measure(size);
