/**
 * `npx tsx bench/presence-writes.ts [channels] [intervals]`: what presence costs one node's database
 * writes at scale (README "Presence"). Fake counts for `channels` channels (default 100,000) in the
 * node's tally, the real writer (tailer/presence-writer.ts) against the real database (MONGODB_URI,
 * else mongod, else the project's FerretDB): the start (every channel written once), then `intervals`
 * rounds (default 2 refresh cycles) with 1 % of the channels changing each round, on a simulated
 * server clock that moves one interval per round so no wall-clock waiting is involved; then a read of
 * one channel's presence among all those documents, and the stop (the node's documents removed).
 * Prints operations and milliseconds per round.
 */
import { randomBytes } from "node:crypto";
import { MongoClient } from "mongodb";
import { startDevDb } from "../infra/devdb/launcher.ts";
import { createLogger } from "../shared/log.ts";
import { ensurePresence, readPresence } from "../shared/presence/collection.ts";
import { planSize, REFRESH_EVERY_INTERVALS } from "../shared/presence/plan.ts";
import { PresenceTally } from "../tailer/presence-tally.ts";
import { presenceWrites } from "../tailer/presence-writer.ts";

const INTERVAL_MS = 5000;
const channels = Number(process.argv[2] ?? 100_000);
const intervals = Number(process.argv[3] ?? 2 * REFRESH_EVERY_INTERVALS);
const say = (line: string) => process.stdout.write(`${line}\n`);

const devdb = await startDevDb({ log: (l) => say(`[devdb] ${l}`) });
const client = new MongoClient(devdb.uri, { directConnection: true });
const dbName = `bench_presence_${randomBytes(3).toString("hex")}`;
try {
  await client.connect();
  const db = client.db(dbName);
  const presence = await ensurePresence(db, "bus");
  const tally = new PresenceTally({ subjects: false });
  for (let i = 0; i < channels; i++) for (let k = 0; k <= i % 3; k++) tally.join(`ch-${i}`, null);
  let clock = Date.now();
  const writes = presenceWrites(
    { nodeId: "bench-node", intervalMs: INTERVAL_MS },
    { presence: async () => presence, now: async () => clock, tally, log: createLogger("bench") },
  );
  const round = async (label: string) => {
    const started = performance.now();
    const plan = await writes.write();
    const ms = performance.now() - started;
    if (plan === null) throw new Error(`${label}: the write failed`);
    const row = {
      label,
      ops: planSize(plan),
      changed: plan.changed.length,
      refreshes: plan.refreshes.length,
      ms,
    };
    say(
      `${row.label.padEnd(12)} ops ${String(row.ops).padStart(7)} (changed ${row.changed}, refreshes ${row.refreshes})` +
        `  ${row.ms.toFixed(0).padStart(6)} ms  ${((row.ops / row.ms) * 1000).toFixed(0)} ops/s`,
    );
    return row;
  };
  const rows = [await round("start")];
  for (let r = 1; r <= intervals; r++) {
    clock += INTERVAL_MS;
    for (let j = 0; j < channels / 100; j++) tally.join(`ch-${(r * 7919 + j * 101) % channels}`, null);
    rows.push(await round(`interval ${r}`));
  }
  // Steady state: the rounds after the first refresh cycle, or every round after the start if there are no more.
  const steady =
    intervals > REFRESH_EVERY_INTERVALS ? rows.slice(1 + REFRESH_EVERY_INTERVALS) : rows.slice(1);
  const opsPerInterval = steady.reduce((n, r) => n + r.ops, 0) / steady.length;
  const msPerInterval = steady.reduce((n, r) => n + r.ms, 0) / steady.length;
  const readStarted = performance.now();
  const one = await readPresence(presence, "ch-42", new Date(clock));
  const readMs = performance.now() - readStarted;
  const removeStarted = performance.now();
  await writes.remove();
  const removeMs = performance.now() - removeStarted;
  say(
    `\n${channels} channels, ${devdb.kind}${devdb.patchedFerretDB ? " (patched)" : ""}, interval ${INTERVAL_MS} ms: ` +
      `steady ${opsPerInterval.toFixed(0)} writes per interval (${(opsPerInterval / (INTERVAL_MS / 1000)).toFixed(0)}/s), ` +
      `${msPerInterval.toFixed(0)} ms of database time per interval; ` +
      `one channel's read ${readMs.toFixed(1)} ms (${JSON.stringify(one)}); stop removed ${channels} documents in ${removeMs.toFixed(0)} ms`,
  );
  await db.dropDatabase();
} finally {
  await client.close();
  await devdb.stop();
}
