/**
 * A replica-set rollback under the tail loop (shared/bus/tail-loop.ts, docs/offsets.md "Rollback"): the
 * tail delivered documents the new primary never had, and their offsets now hold other, acknowledged
 * messages. The re-open's re-read of the last offset is checked by `_id`, the subscribers are told, and
 * the acknowledged messages are delivered. The pure parts (shared/bus/delivered-ids.ts) and the loop over
 * a fake database that answers find / getMore as a server would. No I/O.
 */
import { type Db, MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { DeliveredIds, divergence, isRolledBack } from "../../shared/bus/delivered-ids.ts";
import type { BusDoc } from "../../shared/bus/doc.ts";
import { BusTail } from "../../shared/bus/tail-loop.ts";
import { createLogger } from "../../shared/log.ts";
import type { Envelope } from "../../shared/message.ts";
import type { Position } from "../../shared/offsets.ts";

const E = "e1";
const doc = (offset: number, id: string): BusDoc =>
  offset === 0
    ? ({ _id: id, offset, epoch: E, kind: "sentinel", ts: new Date(0) } as BusDoc)
    : ({ _id: id, offset, epoch: E, channel: "a", event: "message", data: "{}", ts: new Date(0) } as BusDoc);

function remembered(ids: Record<number, string>): DeliveredIds {
  const d = new DeliveredIds(100);
  for (const [o, id] of Object.entries(ids)) d.record({ offset: Number(o), epoch: E }, id);
  return d;
}

describe("identity of the re-read document", () => {
  it("a different _id at the last delivered offset is a rollback; the same, or an unknown one, is not", () => {
    const d = remembered({ 4: "a4", 5: "a5" });
    expect(isRolledBack(d, { offset: 5, epoch: E, _id: "b5" })).toBe(true);
    expect(isRolledBack(d, { offset: 5, epoch: E, _id: "a5" })).toBe(false);
    expect(isRolledBack(d, { offset: 9, epoch: E, _id: "x" })).toBe(false);
  });

  it("finds the first offset whose document is not the one delivered", () => {
    const d = remembered({ 1: "a1", 2: "a2", 3: "a3", 4: "a4", 5: "a5" });
    const bus = [1, 2].map((o) => ({ offset: o, epoch: E, _id: `a${o}` }));
    bus.push(...[3, 4, 5].map((o) => ({ offset: o, epoch: E, _id: `b${o}` })));
    expect(divergence(d, bus, { offset: 5, epoch: E })).toBe(3);
    // The oldest remembered ones evicted since: compared from the first still there.
    expect(divergence(d, bus.slice(1), { offset: 5, epoch: E })).toBe(3);
  });

  it("keeps a bounded number of ids, of one epoch", () => {
    const d = new DeliveredIds(3);
    for (let o = 1; o <= 5; o++) d.record({ offset: o, epoch: E }, `a${o}`);
    expect(d.oldest()).toBe(3);
    d.record({ offset: 0, epoch: "e2" }, "s");
    expect(d.idAt({ offset: 5, epoch: E })).toBeUndefined();
  });
});

/**
 * A server holding `docs` for one tailable cursor: find answers the document at the filter's offset,
 * getMore answers each of `script` in turn (documents, or an error that ends the cursor), then waits
 * until the tail stops.
 */
class FakeServer {
  docs: BusDoc[];
  script: Array<BusDoc[] | Error | (() => void)> = [];
  constructor(docs: BusDoc[]) {
    this.docs = docs;
  }
  #matching(filter: { offset: { $gte?: number; $lte?: number; $gt?: number; $lt?: number } }) {
    const f = filter.offset;
    return this.docs
      .filter(
        (d) =>
          (f.$gte === undefined || d.offset >= f.$gte) &&
          (f.$gt === undefined || d.offset > f.$gt) &&
          (f.$lte === undefined || d.offset <= f.$lte) &&
          (f.$lt === undefined || d.offset < f.$lt),
      )
      .sort((x, y) => x.offset - y.offset);
  }
  db(): Db {
    const server = this;
    return {
      async command(cmd: Record<string, unknown>, options: { signal?: AbortSignal }) {
        if ("find" in cmd) {
          const first = server.#matching(cmd.filter as never).slice(0, 1);
          return { cursor: { id: 1, firstBatch: first } };
        }
        if ("getMore" in cmd) {
          for (;;) {
            const step = server.script.shift();
            if (step === undefined) {
              return await new Promise((_, reject) => {
                options.signal?.addEventListener("abort", () => reject(new Error("aborted")));
              });
            }
            if (typeof step === "function") {
              step();
              continue;
            }
            if (step instanceof Error) throw step;
            return { cursor: { id: 1, nextBatch: step } };
          }
        }
        return {};
      },
      collection() {
        return {
          find: (filter: never) => ({ toArray: async () => server.#matching(filter) }),
          findOne: async (_: unknown, opts: { sort: { $natural: number } }) => {
            const sorted = [...server.docs].sort((x, y) => x.offset - y.offset);
            return (opts.sort.$natural < 0 ? sorted.at(-1) : sorted[0]) ?? null;
          },
        };
      },
    } as unknown as Db;
  }
}

describe("BusTail across a rollback", () => {
  it("tells subscribers and delivers the acknowledged messages that reused the rolled-back offsets", async () => {
    const primary = [doc(0, "s"), ...[1, 2, 3, 4, 5].map((o) => doc(o, `a${o}`))];
    const server = new FakeServer(primary.slice(0, 1));
    const delivered: Envelope[] = [];
    const gaps: Array<{ from: Position; to: Position; missed: number | null }> = [];
    server.script.push(
      primary.slice(1),
      () => {
        // Failover: the new primary never had 3..5 and gave those offsets to other messages.
        server.docs = [...primary.slice(0, 3), ...[3, 4, 5, 6].map((o) => doc(o, `b${o}`))];
      },
      new MongoServerError({ message: "cursor not found", code: 43 }),
    );
    server.script.push([doc(6, "b6")]);
    const done = new Promise<void>((resolve) => {
      server.script.push(() => resolve());
    });
    const tail = new BusTail(
      server.db(),
      {
        collection: "bus",
        awaitMs: 10,
        batchSize: 100,
        from: { offset: 0, epoch: E },
        backoff: { initialMs: 1, maxMs: 1 },
      },
      { onMessage: (e) => delivered.push(e), onGap: (g) => gaps.push(g) },
      createLogger("test", { write: () => {} }),
    );
    tail.start();
    await done;
    await tail.stop();
    expect(delivered.map((e) => e.id)).toEqual(["a1", "a2", "a3", "a4", "a5", "b3", "b4", "b5", "b6"]);
    expect(gaps).toEqual([{ from: { offset: 5, epoch: E }, to: { offset: 3, epoch: E }, missed: null }]);
    expect(tail.stats.position).toEqual({ offset: 6, epoch: E });
  });
});
