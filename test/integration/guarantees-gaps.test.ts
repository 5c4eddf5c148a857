/**
 * G5 (honest gaps): on a tiny bus that FerretDB's cleanup job trims every second, (a) a client whose
 * `since` was evicted is told `recovered: false` — by Socket.IO and by HTTP history — and then gets
 * live messages; (b) a tailer frozen (SIGSTOP) until the bus evicted past its position counts and
 * logs the gap when it resumes, and keeps delivering live messages.
 */
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";
import { type Client, createClient, type Gap, type TransportName } from "../../client/index.ts";
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

/**
 * A TypeScript client (the one applications use: it resumes) subscribed to `gap-b` on one node, with
 * what it delivered and the gaps it reported.
 */
function watched(transport: TransportName, node: Component) {
  const got: Envelope[] = [];
  const gaps: Gap[] = [];
  const client = createClient({
    urls: [node.url],
    transport,
    WebSocket: WsWebSocket as unknown as typeof WebSocket,
    backoff: { initialMs: 50, maxMs: 500 },
  });
  clients.push(client);
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const until = (what: string, done: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${transport} client on ${node.url}: timed out waiting for ${what}`));
      }, 30_000);
      waiters.add(check);
      check();
    });
  const state = {
    name: `${transport}@${node.url}`,
    got,
    gaps,
    gotAtGap: null as number | null,
    subscribed: new Promise<void>((resolve) => {
      const off = client.on("subscribed", () => {
        off();
        resolve();
      });
    }),
    gap: null as unknown as Promise<Gap>,
    waitFor: (receipts: Receipt[]) => {
      const ids = new Set(receipts.map((r) => r.id));
      return until(`${ids.size} messages`, () => got.filter((m) => ids.has(m.id)).length === ids.size);
    },
  };
  state.gap = until("a gap", () => gaps.length > 0).then(() => gaps[0] as Gap);
  client.on("gap", (gap) => {
    state.gotAtGap ??= got.length;
    gaps.push(gap);
    wake();
  });
  client.subscribe("gap-b", (m) => {
    got.push(m);
    wake();
  });
  return state;
}

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
const clients: Client[] = [];
afterAll(() => {
  for (const c of clients) c.close();
});

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
    expect(after1.recovery.unrecovered - before.recovery.unrecovered).toBe(1);
    expect(after1.recovery.served - before.recovery.served).toBe(1);
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

  it("a tailer frozen past retention tells every client on it of the gap (both transports); the other node's clients are not affected", async () => {
    const node = nodes[1] as Component;
    const other = nodes[0] as Component;
    const ws = watched("ws", node);
    const sio = watched("socket.io", node);
    const elsewhere = watched("ws", other);
    const everyone = [ws, sio, elsewhere];
    await Promise.all(everyone.map((c) => c.subscribed));
    const first = receiptsOf(await flood("gap-b", 10, "first"), "gap-b");
    await explained(Promise.all(everyone.map((c) => c.waitFor(first))), [node, other], uri(), db);
    const before = await nodeStats(node);
    expect(before.tail.gaps).toBe(0);
    const frozenAt = before.tail.position as Position;

    let during: Receipt[] = [];
    process.kill(node.pid, "SIGSTOP");
    try {
      during = receiptsOf(await flood("gap-b", 6 * MAX_DOCS, "while-frozen"), "gap-b");
      // Far enough that even a batch already on its way to the frozen node cannot bridge the hole.
      await evictedPast(frozenAt.offset + 4 * MAX_DOCS);
    } finally {
      process.kill(node.pid, "SIGCONT");
    }

    // Every client on the frozen node is told, on both transports, before anything after the hole.
    const [wsGap, sioGap] = await explained(Promise.all([ws.gap, sio.gap]), [node], uri(), db);
    const after = await nodeStats(node);
    expect(after.tail.gaps).toBeGreaterThan(0);
    expect(after.tail.missed).toBeGreaterThan(0);
    expect(node.output().some((line) => line.includes("fell behind the bus"))).toBe(true);
    const lastFirst = (first.at(-1) as Receipt).offset;
    for (const [c, gap] of [
      [ws, wsGap],
      [sio, sioGap],
    ] as const) {
      expect(gap.channel).toBe("gap-b");
      expect(gap.since.offset, c.name).toBeGreaterThanOrEqual(lastFirst);
      expect(gap.position.offset, c.name).toBeGreaterThan(gap.since.offset);
      // Nothing delivered after the notice comes from inside the hole.
      const afterNotice = c.got.slice(c.gotAtGap ?? 0);
      expect(afterNotice.every((m) => m.offset > gap.position.offset)).toBe(true);
    }

    // Live delivery resumes everywhere.
    const live = receiptsOf(await flood("gap-b", 20, "live"), "gap-b");
    await explained(Promise.all(everyone.map((c) => c.waitFor(live))), [node, other], uri(), db);
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);

    // Told clients: in order, no duplicate, nothing unacknowledged; before the freeze and after the
    // resume complete; what is missing was reported.
    const acknowledged = [...first, ...during, ...live];
    for (const c of [ws, sio]) {
      const problems = sequenceProblems(c.got, acknowledged).filter((p) => !p.includes("missing"));
      expect(problems, c.name).toEqual([]);
      const ids = new Set(c.got.map((m) => m.id));
      expect(
        [...first, ...live].filter((r) => !ids.has(r.id)),
        c.name,
      ).toEqual([]);
      expect(c.got.length, c.name).toBeLessThan(acknowledged.length);
      expect(c.gaps.length, c.name).toBeGreaterThan(0);
    }
    // The other node never stopped: its client has everything and was told of nothing.
    expect(elsewhere.gaps).toEqual([]);
    expect(sequenceProblems(elsewhere.got, acknowledged)).toEqual([]);
  }, 90_000);
});
