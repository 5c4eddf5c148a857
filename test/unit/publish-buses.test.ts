/**
 * A publish across partitioned buses (functions/batch.ts, functions/publish.ts): which messages go to
 * which bus, and what the request answers when some buses write and others fail — as pure functions,
 * and through the ingest app with documented fake writers (the real writer and buses are covered by
 * test/integration/partitioned-ingest.test.ts).
 */
import { MongoNetworkError } from "mongodb";
import { describe, expect, it } from "vitest";
import { createIngestApp } from "../../functions/app.ts";
import {
  groupByBus,
  type Outcome,
  PartialPublishError,
  partialResults,
  partialRetryAfter,
  settle,
} from "../../functions/batch.ts";
import { publishMessages } from "../../functions/publish.ts";
import type { Appended, BusWriter, Receipt } from "../../shared/bus/append.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { createLogger } from "../../shared/log.ts";
import { defaultMessageLimits, type OutgoingMessage } from "../../shared/message.ts";
import { createRateLimiter } from "../../shared/rate-limit.ts";

const receipt = (id: string, channel: string, offset: number): Receipt => ({
  id,
  channel,
  offset,
  epoch: "e",
});
const written = (r: Receipt, replayed = false): Outcome => ({ kind: "written", receipt: r, replayed });
const failed = (channel: string, error: unknown): Outcome => ({ kind: "failed", channel, error });
const down = (retryAfter = 1) =>
  new TailcastError(ErrorCode.busUnavailable, "down", { retryAfter, reason: "append_timeout" });

describe("groupByBus", () => {
  it("keeps each bus's positions in request order, buses ascending", () => {
    const bus: Record<string, number> = { a: 2, b: 0, c: 2, d: 1 };
    const groups = groupByBus(["a", "b", "c", "d", "b"], (x) => bus[x] as number);
    expect([...groups]).toEqual([
      [0, [1, 4]],
      [1, [3]],
      [2, [0, 2]],
    ]);
  });

  it("is one group for one bus", () => {
    expect([...groupByBus(["x", "y"], () => 0)]).toEqual([[0, [0, 1]]]);
  });
});

describe("settle", () => {
  it("gives the receipts in request order when every message was written", () => {
    const a = receipt("a", "ch-a", 5);
    const b = receipt("b", "ch-b", 1);
    expect(settle([written(a), written(b, true)])).toEqual({ receipts: [a, b], replayed: [false, true] });
  });

  it("throws the first failure alone when nothing new was written (what one bus answers)", () => {
    const first = down();
    const outcomes = [written(receipt("r", "x", 1), true), failed("y", first), failed("z", down(3))];
    expect(() => settle(outcomes)).toThrow(first);
  });

  it("throws PartialPublishError when some messages were written and others failed", () => {
    const first = down();
    const outcomes = [written(receipt("a", "x", 1)), failed("y", first)];
    let thrown: unknown;
    try {
      settle(outcomes);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PartialPublishError);
    expect((thrown as PartialPublishError).first).toBe(first);
    expect((thrown as PartialPublishError).outcomes).toEqual(outcomes);
  });
});

describe("partialResults", () => {
  it("is each message's receipt or public error, with its channel, in request order", () => {
    const a = receipt("a", "x", 9);
    const outcomes = [failed("y", down()), written(a), failed("z", new Error("secret detail"))];
    expect(partialResults(outcomes)).toEqual([
      { channel: "y", error: { code: "bus_unavailable", message: "down" } },
      a,
      { channel: "z", error: { code: "internal_error", message: "Internal error." } },
    ]);
    expect(partialRetryAfter(outcomes)).toBe(1);
    expect(partialRetryAfter([failed("y", down(2)), failed("z", down(5))])).toBe(5);
    expect(partialRetryAfter([written(a)])).toBeUndefined();
  });
});

/**
 * A documented fake of one bus's writer: answers like a bus with its own offsets, or fails every
 * append with `failure` (what a real writer does when its bus is unreachable).
 */
function fakeWriter(epoch: string, failure?: unknown): { writer: BusWriter; appended: OutgoingMessage[][] } {
  const appended: OutgoingMessage[][] = [];
  let last = 0;
  const fake = {
    append: async (messages: OutgoingMessage[]): Promise<Appended[]> => {
      if (failure !== undefined) throw failure;
      appended.push(messages);
      return messages.map((m) => {
        last++;
        return { id: `${epoch}-${last}`, channel: m.channel, offset: last, epoch, ts: new Date(0) };
      });
    },
  };
  return { writer: fake as unknown as BusWriter, appended };
}

const BUS_OF: Record<string, number> = { "a-1": 0, "a-2": 0, "b-1": 1, "c-1": 2 };

function app(writers: BusWriter[]) {
  return createIngestApp({
    bus: async () => {
      throw new Error("no history here");
    },
    writer: async (i = 0) => writers[i] as BusWriter,
    busOf: (channel) => BUS_OF[channel] ?? 0,
    idempotency: async () => {
      throw new Error("no keys here");
    },
    ready: async () => {},
    limits: defaultMessageLimits,
    maxBodyBytes: 64 * 1024,
    corsOrigins: [],
    auth: {
      publishers: "off",
      subscribers: undefined,
      limiter: createRateLimiter(),
      defaultRate: { perSecond: 1000, burst: 1000 },
      historyRate: { perSecond: 10, burst: 20 },
    },
    log: createLogger("test", { level: "error" }),
  });
}

const batch = (channels: string[]) =>
  JSON.stringify({ messages: channels.map((channel, i) => ({ channel, data: i })) });

const postBatch = (a: ReturnType<typeof app>, channels: string[]) =>
  a.request("/v1/messages", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: batch(channels),
  });

describe("a batch across buses, through the app", () => {
  it("writes each bus's messages with that bus's writer, in request order, and answers 201 with every receipt", async () => {
    const w = [fakeWriter("e0"), fakeWriter("e1"), fakeWriter("e2")];
    const res = await postBatch(app(w.map((x) => x.writer)), ["b-1", "a-1", "c-1", "a-2"]);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      results: [
        { id: "e1-1", channel: "b-1", offset: 1, epoch: "e1" },
        { id: "e0-1", channel: "a-1", offset: 1, epoch: "e0" },
        { id: "e2-1", channel: "c-1", offset: 1, epoch: "e2" },
        { id: "e0-2", channel: "a-2", offset: 2, epoch: "e0" },
      ],
    });
    expect(w.map((x) => x.appended.map((g) => g.map((m) => m.channel)))).toEqual([
      [["a-1", "a-2"]],
      [["b-1"]],
      [["c-1"]],
    ]);
  });

  it("answers a batch written in part with the failure's status and error plus every message's result", async () => {
    const w = [
      fakeWriter("e0"),
      fakeWriter("e1", new MongoNetworkError("connection refused")),
      fakeWriter("e2"),
    ];
    const res = await postBatch(app(w.map((x) => x.writer)), ["a-1", "b-1", "c-1"]);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = (await res.json()) as { error: { code: string }; results: unknown[] };
    expect(body.error.code).toBe("bus_unavailable");
    expect(body.results).toEqual([
      { id: "e0-1", channel: "a-1", offset: 1, epoch: "e0" },
      { channel: "b-1", error: { code: "bus_unavailable", message: expect.any(String) } },
      { id: "e2-1", channel: "c-1", offset: 1, epoch: "e2" },
    ]);
  });

  it("answers exactly as one bus does when every bus that was to write failed", async () => {
    const w = [fakeWriter("e0", down()), fakeWriter("e1", down())];
    const res = await postBatch(app(w.map((x) => x.writer)), ["a-1", "b-1"]);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: "bus_unavailable", message: "down" } });
  });

  it("never calls another bus's writer for a single-bus batch", async () => {
    const w = [fakeWriter("e0"), fakeWriter("e1", down())];
    const out = await publishMessages(
      {
        writer: async (i = 0) => (w[i] as { writer: BusWriter }).writer,
        idempotency: async () => {
          throw new Error("unused");
        },
        busOf: (c) => BUS_OF[c] ?? 0,
      },
      "pub",
      [{ channel: "a-1", event: "message", data: "1" }],
    );
    expect(out.receipts.map((r) => r.epoch)).toEqual(["e0"]);
  });
});
