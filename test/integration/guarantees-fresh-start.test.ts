/**
 * G3 (fresh start): a tailer that starts — or restarts with no saved position — after thousands of
 * messages were published begins at the live end of the bus. Its very first known position is the
 * newest offset, and a subscriber that joins as early as the node accepts it, without `since`,
 * receives only messages published afterwards.
 */
import { describe, expect, inject, it } from "vitest";
import { type Component, startComponent } from "../../infra/local/component.ts";
import type { Position } from "../../shared/offsets.ts";
import { guaranteeStack } from "../helpers/guarantee-stack.ts";
import {
  busBounds,
  explained,
  nodeStats,
  type Outgoing,
  pollUntil,
  publishBatch,
  type Receipt,
  sequenceProblems,
} from "../helpers/guarantees.ts";
import type { OkAck, RecordingClient } from "../helpers/recording-client.ts";
import { componentEnv, startFunctions, testDbName } from "../helpers/stack.ts";

const env = { TAILCAST_BUS_MAX_DOCS: "20000" }; // holds all of it: the history is there to be (not) replayed
const CHANNEL = "fresh";
// Tailers are started by each test, watched from their first moment.
const stack = guaranteeStack(import.meta.url, { env });
const { db } = stack;

/** `count` messages on CHANNEL (and a second channel interleaved), in batches of 100. */
async function publishHistory(count: number, tag: string, to: Component = stack.ingest): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  for (let sent = 0; sent < count; sent += 100) {
    const batch: Outgoing[] = Array.from({ length: Math.min(100, count - sent) }, (_, i) => ({
      channel: i % 4 === 3 ? "fresh-other" : CHANNEL,
      data: { tag, n: sent + i },
    }));
    receipts.push(...(await publishBatch(to, batch)));
  }
  return receipts;
}

/**
 * Starts a tailer process and, from the moment it exists, polls /stats for the first position it
 * reports and keeps trying to subscribe a client (no `since`) until the node accepts — the earliest a
 * client can join. A node that replayed history would show an older first position, or deliver
 * history to this client.
 */
async function startWatched(name: string, opts: { port?: number; db?: string } = {}) {
  const { port } = opts;
  const node = await startComponent({
    kind: "tailer",
    env: { ...componentEnv({ db: opts.db ?? db, env }), TAILCAST_NODE_ID: name },
    ...(port ? { port } : {}),
  });
  stack.track(node);
  const firstPosition = pollUntil<Position>(
    `${name}: first tail position`,
    async () => (await nodeStats(node)).tail?.position ?? undefined,
    30_000,
    5,
  );
  const early = stack.client(`${name}-early`);
  const ack = pollUntil<OkAck>(
    `${name}: earliest accepted subscribe`,
    async () => {
      if (!early.connected) await early.connect(node.url);
      return await early.subscribe(CHANNEL); // refused (bus_unavailable) until the node knows its position
    },
    30_000,
    5,
  );
  const [position, earlyAck] = await Promise.all([firstPosition, ack]);
  await node.ready();
  return { node, position, early, earlyAck };
}

async function expectOnlyLive(
  node: Component,
  subs: RecordingClient[],
  newest: number,
  tag: string,
  where: { ingest: Component; db: string } = { ingest: stack.ingest, db },
) {
  const live = await publishHistory(40, tag, where.ingest);
  const mine = live.filter((r) => r.channel === CHANNEL);
  expect(Math.min(...live.map((r) => r.offset))).toBeGreaterThan(newest);
  for (const s of subs) {
    // On timeout, say where the node is: stuck behind the bus while claiming to be live is not slow.
    await explained(
      s.waitForIds(
        mine.map((r) => r.id),
        15_000,
      ),
      [node],
      inject("mongodbUri"),
      where.db,
    );
    // Live messages arrive in order after anything older, so the record is complete here.
    expect(sequenceProblems(s.of(CHANNEL), mine), s.name).toEqual([]);
  }
}

describe("G3: a tailer starts at the live end", () => {
  it("a new tailer replays none of 3,000 earlier messages; new subscribers get only live ones", async () => {
    const history = await publishHistory(3000, "history");
    expect(history).toHaveLength(3000);
    const newest = Math.max(...history.map((r) => r.offset));
    expect((await busBounds(inject("mongodbUri"), db)).newest.offset).toBe(newest);

    const { node, position, early, earlyAck } = await startWatched("fresh-1");
    // Nothing was published since `newest`: the node's first known position is exactly the live end.
    expect(position.offset).toBe(newest);
    expect(earlyAck.offset).toBeGreaterThanOrEqual(newest);
    expect(earlyAck.recovered).toBe(true);
    expect((await nodeStats(node)).tail.position?.offset).toBe(newest);

    const late = await stack.connected("fresh-1-late", node);
    await late.subscribe(CHANNEL);
    await expectOnlyLive(node, [early, late], newest, "live-1");
    expect((await nodeStats(node)).tail).toMatchObject({ gaps: 0, missed: 0 });
  }, 60_000);

  it("a tailer restarted after a crash (no saved position) starts at the live end again", async () => {
    // A bus of its own, kept small: this case is about the restart, not about the bus size.
    const db2 = testDbName(import.meta.url);
    const ingest2 = stack.track(await startFunctions({ db: db2, env }));
    const where = { ingest: ingest2, db: db2 };
    await publishHistory(500, "before", ingest2);
    const first = await startWatched("fresh-2", { db: db2 });
    const port = first.node.port;
    await first.node.kill("SIGKILL");
    await first.early.disconnected;
    // Published while no tailer runs: a restarted node must not replay it either.
    const meanwhile = await publishHistory(300, "while-down", ingest2);
    const newest = Math.max(...meanwhile.map((r) => r.offset));

    const again = await startWatched("fresh-2", { db: db2, port });
    expect(again.position.offset).toBe(newest);
    expect(again.earlyAck.offset).toBeGreaterThanOrEqual(newest);
    await expectOnlyLive(again.node, [again.early], newest, "live-2", where);
    expect(first.early.received).toEqual([]);
  }, 60_000);
});
