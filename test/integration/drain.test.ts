/**
 * The graceful drain end to end (README "Drain"): two tailers, 500 TypeScript clients over both
 * transports spread over them, a publisher at 200 msg/s over 20 channels with every acknowledged
 * offset recorded. One tailer gets SIGTERM: every client ends on the other node with every
 * acknowledged message of its channels exactly once, in order; the clients were told no earlier than
 * their turn in the window and moved without backoff (it is a minute here, so one would show); the
 * drained process exits 0 within TAILCAST_DRAIN_TIMEOUT_MS.
 */
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Receipt } from "../../shared/bus/append.ts";
import { tellAt } from "../../tailer/drain-plan.ts";
import { ClientFleet, type MemberSpec } from "../helpers/client-fleet.ts";
import { guaranteeStack } from "../helpers/guarantee-stack.ts";
import {
  explained,
  type NodeStats,
  nodeStats,
  publishBatch,
  receiptsOf,
  sequenceProblems,
} from "../helpers/guarantees.ts";

const WINDOW_MS = 3000;
const TIMEOUT_MS = 15_000;
const CLIENTS = 500;
const CHANNELS = Array.from({ length: 20 }, (_, i) => `drain-${i}`);
const RATE = 200;
const BATCH = 10;

const stack = guaranteeStack(import.meta.url, {
  env: { TAILCAST_DRAIN_WINDOW_MS: String(WINDOW_MS), TAILCAST_DRAIN_TIMEOUT_MS: String(TIMEOUT_MS) },
  tailers: [{ nodeId: "drain-a" }, { nodeId: "drain-b" }],
});

/**
 * Publishes RATE messages per second in batches of BATCH (batch k is due at start + k·BATCH/RATE),
 * channels in rotation, until stopped; every receipt is recorded. A refused publish fails the test.
 */
class PacedPublisher {
  readonly receipts: Receipt[] = [];
  readonly done: Promise<void>;
  #stopped = false;
  #listeners = new Set<() => void>();

  constructor(publish: (messages: Array<{ channel: string; data: unknown }>) => Promise<Receipt[]>) {
    this.done = (async () => {
      const start = performance.now();
      for (let k = 0; !this.#stopped; k++) {
        const due = start + (k * BATCH * 1000) / RATE - performance.now();
        if (due > 0) await delay(due); // pacing the publisher, not waiting for an outcome
        const messages = Array.from({ length: BATCH }, (_, i) => {
          const n = k * BATCH + i;
          return { channel: CHANNELS[n % CHANNELS.length] as string, data: { n } };
        });
        this.receipts.push(...(await publish(messages)));
        for (const listener of this.#listeners) listener();
      }
    })();
  }

  /** Resolves once `count` messages are acknowledged. */
  reached(count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.receipts.length < count) return;
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
      this.done.then(() => reject(new Error(`stopped before ${count} messages`)), reject);
      check();
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.done;
  }
}

describe("graceful drain", () => {
  it("moves 500 clients off a SIGTERMed node onto the other, losing and repeating nothing, and the node exits 0 in time", async () => {
    const [a, b] = stack.nodes;
    if (!a || !b) throw new Error("two tailers expected");
    const specs: MemberSpec[] = Array.from({ length: CLIENTS }, (_, i) => ({
      transport: i % 2 === 0 ? "ws" : "socket.io",
      urls: i % 4 < 2 ? [a.url, b.url] : [b.url, a.url],
      channels: [CHANNELS[i % CHANNELS.length], CHANNELS[(i + 7) % CHANNELS.length]] as string[],
    }));
    // Any backoff would be at least 30 s: a client that waited one would miss every wait below.
    let publisher: PacedPublisher | undefined;
    const fleet = new ClientFleet(specs, {
      timeoutMs: 30_000,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    try {
      const uri = stack.uri();
      const explain = <T>(work: Promise<T>) => explained(work, [a, b], uri, stack.db);
      await explain(
        fleet.waitAll(
          "every client subscribed where it started",
          (m) => m.settledOn(m.spec.urls[0] as string),
          120_000,
        ),
      );
      const onA = fleet.members.filter((m) => m.node === a.url);
      expect(onA.length).toBe(CLIENTS / 2);
      const before = (await nodeStats(a)) as NodeStats & { wsClients: number };
      expect(before.clients + before.wsClients).toBe(CLIENTS / 2);

      publisher = new PacedPublisher((messages) => publishBatch(stack.ingest, messages));
      await explain(publisher.reached(300));

      const sigterm = Date.now();
      const exited = a.kill("SIGTERM");
      await explain(
        fleet.waitAll("every client settled on the other node", (m) => m.settledOn(b.url), 60_000),
      );
      const exit = await exited;
      const exitMs = Date.now() - sigterm;
      expect(exit.code).toBe(0);
      expect(exitMs).toBeLessThan(TIMEOUT_MS);
      // It stopped by itself, not at the deadline.
      expect(a.output().join("\n")).not.toContain("did not finish before its deadline");

      // Live traffic after the move, then every acknowledged message must have reached every client.
      const atMove = publisher.receipts.length;
      await explain(publisher.reached(atMove + 300));
      await publisher.stop();
      const { receipts } = publisher;
      const last = new Map(CHANNELS.map((c) => [c, receiptsOf(receipts, c).at(-1)?.offset ?? -1]));
      await explain(
        fleet.waitAll(
          "every acknowledged message at every client",
          (m) => m.spec.channels.every((c) => m.lastOffset(c) >= (last.get(c) ?? 0)),
          60_000,
        ),
      );

      const problems: string[] = [];
      for (const m of fleet.members) {
        for (const channel of m.spec.channels) {
          const found = sequenceProblems(m.received.get(channel) ?? [], receiptsOf(receipts, channel));
          if (found.length) problems.push(`#${m.index} ${m.spec.transport} ${channel}: ${found.join("; ")}`);
        }
        if (m.errors.length) problems.push(`#${m.index} errors ${JSON.stringify(m.errors.slice(0, 2))}`);
        if (m.gaps.length) problems.push(`#${m.index} gaps ${JSON.stringify(m.gaps.slice(0, 2))}`);
      }
      expect(problems.slice(0, 10)).toEqual([]);

      // Those on the drained node moved once, straight to the other; the others never moved.
      for (const m of fleet.members) {
        expect(m.nodes.map((n) => n.url)).toEqual(onA.includes(m) ? [a.url, b.url] : [b.url]);
      }
      // Spread over the window: the k-th client to arrive on the other node cannot have been told
      // before its turn (timers never fire early; load only delays), so no herd at SIGTERM.
      const arrivals = onA.map((m) => (m.nodes[1]?.at ?? 0) - sigterm).sort((x, y) => x - y);
      for (const [k, at] of arrivals.entries())
        expect(at).toBeGreaterThanOrEqual(tellAt(k, onA.length, WINDOW_MS) - 2);
      const median = arrivals[Math.floor(arrivals.length / 2)];
      console.info(
        `drain: ${onA.length} clients moved, first at ${arrivals[0]} ms, median ${median} ms, last ${arrivals.at(-1)} ms after SIGTERM (window ${WINDOW_MS} ms); ` +
          `process exited 0 after ${exitMs} ms (timeout ${TIMEOUT_MS} ms); ${receipts.length} messages acknowledged`,
      );
    } finally {
      fleet.close();
      await publisher?.stop().catch(() => {}); // the test failed already; this only ends the loop
    }
  }, 240_000);
});
