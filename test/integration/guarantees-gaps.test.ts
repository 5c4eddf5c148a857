/**
 * G5 (honest gaps): on a tiny bus that FerretDB's cleanup job trims every second, (a) a client whose
 * `since` was evicted is told `recovered: false` — by Socket.IO and by HTTP history — and then gets
 * live messages; (b) a tailer frozen (SIGSTOP) until the bus evicted past its position counts and
 * logs the gap when it resumes, and keeps delivering live messages.
 */
import { describe, expect, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import type { Envelope } from "../../shared/message.ts";
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
  receiptsOf,
  sequenceProblems,
} from "../helpers/guarantees.ts";
import type { RecordingClient } from "../helpers/recording-client.ts";

const MAX_DOCS = 50;
const stack = guaranteeStack(import.meta.url, {
  env: { TAILCAST_BUS_MAX_DOCS: String(MAX_DOCS), TAILCAST_BUS_SIZE_BYTES: String(256 * 1024) },
  tailers: [
    // A memory window smaller than the bus: recovery of anything older must come from the bus.
    { nodeId: "gaps-1", env: { TAILCAST_RECOVERY_WINDOW: "20" } },
    { nodeId: "gaps-2" },
  ],
});
const { db, nodes } = stack;
const uri = () => stack.uri();
const connected = (name: string, node: Component) => stack.connected(name, node);

/** `count` messages, `channel` and another channel alternating, in batches of 50. */
async function flood(channel: string, count: number, tag: string): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  for (let sent = 0; sent < count; sent += 50) {
    const batch: Outgoing[] = Array.from({ length: Math.min(50, count - sent) }, (_, i) => ({
      channel: i % 2 === 0 ? channel : `${channel}-other`,
      data: { tag, n: sent + i },
    }));
    receipts.push(...(await publishBatch(stack.ingest, batch)));
  }
  return receipts;
}

/** Waits until the cleanup job has evicted everything up to and including `offset`. */
function evictedPast(offset: number) {
  return pollUntil(
    `eviction past offset ${offset}`,
    async () => {
      const bounds = await busBounds(uri(), db);
      return bounds.oldest.offset > offset ? bounds : undefined;
    },
    30_000,
    100,
  );
}

async function history(channel: string, since: Position) {
  const url = `${stack.ingest.url}/v1/channels/${channel}/messages?since=${since.offset}&epoch=${since.epoch}&limit=1000`;
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as { messages: Envelope[]; recovered: boolean };
}

describe("G5: falling behind retention is reported, never silent", () => {
  it("a client whose `since` was evicted gets recovered:false (Socket.IO and HTTP), then live messages", async () => {
    const node = nodes[0] as Component;
    const [old] = await publishBatch(stack.ingest, [{ channel: "gap-a", data: "old" }]);
    if (!old) throw new Error("no receipt");
    const since = { offset: old.offset, epoch: old.epoch };
    const after = await flood("gap-a", 4 * MAX_DOCS, "after");
    // Wait until the next message after `since` is gone and the trimming has settled.
    await evictedPast(old.offset + 1);
    const settled = await pollUntil(
      "the bus trimmed to its limit",
      async () => {
        const b = await busBounds(uri(), db);
        return b.count <= MAX_DOCS ? b : undefined;
      },
      30_000,
      100,
    );
    const retained = receiptsOf(after, "gap-a").filter((r) => r.offset >= settled.oldest.offset);
    expect(retained.length).toBeGreaterThan(0);

    // HTTP history: the retained part, flagged as incomplete.
    const fromHttp = await history("gap-a", since);
    expect(fromHttp.recovered).toBe(false);
    expect(fromHttp.messages.map((m) => m.id)).toEqual(retained.map((r) => r.id));

    const before = await nodeStats(node);
    const stale = await connected("stale", node);
    const ack = await stale.subscribe("gap-a", since);
    expect(ack.recovered).toBe(false);
    expect(ack.epoch).toBe(old.epoch);
    const after1 = await nodeStats(node);
    if (before.recovery && after1.recovery) {
      expect(after1.recovery.unrecovered - before.recovery.unrecovered).toBe(1);
      expect(after1.recovery.served - before.recovery.served).toBe(1);
    }
    // Contract (README "Socket.IO"): "with `since`, every missed message of that channel still in the bus
    // is emitted … before any live one; `recovered:false` says the gap could not be filled" — and HTTP
    // history does return them. Socket.IO should hand over what is retained too.
    const replayed = stale.received.slice(0, stale.acks[0]?.receivedAtAck ?? 0);
    expect
      .soft(
        replayed.map((m) => m.offset),
        "retained messages after an evicted `since` replayed on subscribe",
      )
      .toEqual(retained.map((r) => r.offset));

    // A node whose memory window still holds everything after `since` (default window, 10,000) fills
    // the gap from memory: recovered, and complete, although the bus no longer has it.
    const remembered = await connected("remembered", nodes[1] as Component);
    const rememberedAck = await remembered.subscribe("gap-a", since);
    expect(rememberedAck.recovered).toBe(true);
    expect(sequenceProblems(remembered.of("gap-a"), receiptsOf(after, "gap-a"))).toEqual([]);

    // A `since` the bus still covers: recovered, with exactly what came after it.
    const recent = retained.at(-3) as Receipt;
    const fresh = await connected("recent", node);
    const recentAck = await fresh.subscribe("gap-a", { offset: recent.offset, epoch: recent.epoch });
    expect(recentAck.recovered).toBe(true);
    expect(fresh.received.map((m) => m.id)).toEqual(retained.slice(-2).map((r) => r.id));
    expect((await history("gap-a", recent)).recovered).toBe(true);

    // Both go on with live messages, in order, without duplicates.
    const live = receiptsOf(await flood("gap-a", 20, "live"), "gap-a");
    await explained(
      Promise.all([stale.waitForIds(live.map((r) => r.id)), fresh.waitForIds(live.map((r) => r.id))]),
      [node],
      uri(),
      db,
    );
    const liveOf = (c: RecordingClient) =>
      c.of("gap-a").filter((m) => m.offset > (c.acks[0]?.ack.offset ?? 0));
    expect(sequenceProblems(liveOf(stale), live), "stale client, live part").toEqual([]);
    expect(sequenceProblems(fresh.of("gap-a"), [...retained.slice(-2), ...live]), "recent client").toEqual(
      [],
    );
  }, 90_000);

  it("a tailer frozen past retention counts and logs the gap, then keeps delivering live messages", async () => {
    const node = nodes[1] as Component;
    const sub = await connected("behind", node);
    await sub.subscribe("gap-b");
    const first = receiptsOf(await flood("gap-b", 10, "first"), "gap-b");
    await explained(sub.waitForIds(first.map((r) => r.id)), [node], uri(), db);
    const before = await nodeStats(node);
    expect(before.tail.gaps).toBe(0);
    const frozenAt = before.tail.position as Position;

    let during: Receipt[] = [];
    process.kill(node.pid, "SIGSTOP");
    try {
      during = await flood("gap-b", 6 * MAX_DOCS, "while-frozen");
      // Far enough that even a batch already on its way to the frozen node cannot bridge the hole.
      await evictedPast(frozenAt.offset + 4 * MAX_DOCS);
    } finally {
      process.kill(node.pid, "SIGCONT");
    }

    const after = await pollUntil(
      "the node to count the gap",
      async () => {
        const st = await nodeStats(node);
        return st.tail.gaps > 0 ? st : undefined;
      },
      30_000,
      100,
    );
    expect(after.tail.missed).toBeGreaterThan(0);
    expect(node.output().some((line) => line.includes("fell behind the bus"))).toBe(true);

    // Live delivery resumes.
    const live = receiptsOf(await flood("gap-b", 20, "live"), "gap-b");
    await explained(sub.waitForIds(live.map((r) => r.id)), [node], uri(), db);
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);

    // What the client got: in order, no duplicate, nothing unacknowledged; the evicted part is missing,
    // everything before the freeze and after the resume is there.
    const got = sub.of("gap-b");
    const acknowledged = [...first, ...receiptsOf(during, "gap-b"), ...live];
    const problems = sequenceProblems(got, acknowledged).filter((p) => !p.includes("missing"));
    expect(problems).toEqual([]);
    const ids = new Set(got.map((m) => m.id));
    expect([...first, ...live].filter((r) => !ids.has(r.id))).toEqual([]);
    expect(got.length).toBeLessThan(acknowledged.length);
  }, 90_000);
});
