/**
 * The ingest function as a real process against the real database: what is stored, offsets under
 * concurrent writers, history, refusing a non-capped collection, and bad input that stores nothing.
 */
import { once } from "node:events";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Component, startComponent } from "../../infra/local/component.ts";
import { responseReader } from "../helpers/raw-http.ts";
import {
  componentEnv,
  post,
  publish,
  startFunctions,
  stopAll,
  testDbName,
  withDb,
} from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
let ingest: Component;
let second: Component;

beforeAll(async () => {
  [ingest, second] = await Promise.all([startFunctions({ db }), startFunctions({ db })]);
});
afterAll(() => stopAll([ingest, second]));

const countDocs = () => withDb(uri, (c) => c.db(db).collection("bus").countDocuments());

describe("ingest function (real process, real database)", () => {
  it("creates a capped bus with a sentinel and stores what was published", async () => {
    const res = await publish(ingest, "orders", { sku: "a-1", qty: 2, $where: "x", "a.b": 1, __proto__x: 0 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      channel: "orders",
      offset: expect.any(Number),
      epoch: expect.any(String),
    });
    await withDb(uri, async (client) => {
      const options = (await client.db(db).listCollections({ name: "bus" }).toArray())[0] as {
        options: Record<string, unknown>;
      };
      expect(options.options.capped).toBe(true);
      const stored = await client
        .db(db)
        .collection("bus")
        .findOne({ _id: res.body.id as never });
      expect(stored).toMatchObject({
        channel: "orders",
        event: "message",
        offset: res.body.offset,
        epoch: res.body.epoch,
      });
      expect(JSON.parse(stored?.data as string)).toEqual({
        sku: "a-1",
        qty: 2,
        $where: "x",
        "a.b": 1,
        __proto__x: 0,
      });
      const sentinel = await client.db(db).collection("bus").findOne({ offset: 0 });
      expect(sentinel).toMatchObject({ kind: "sentinel", epoch: res.body.epoch });
    });
  });

  it("gives strictly increasing, contiguous offsets in bus order to concurrent writers in two processes", async () => {
    const sends = Array.from({ length: 200 }, (_, i) => publish(i % 2 ? ingest : second, `c${i % 3}`, i));
    const results = await Promise.all(sends);
    expect(results.every((r) => r.status === 201)).toBe(true);
    const offsets = results.map((r) => r.body.offset as number).sort((a, b) => a - b);
    expect(new Set(offsets).size).toBe(200);
    expect((offsets.at(-1) as number) - (offsets[0] as number)).toBe(199);
    await withDb(uri, async (client) => {
      // Natural (insertion) order is the order tailable cursors read: offsets must increase along it.
      const natural = await client
        .db(db)
        .collection("bus")
        .find({}, { sort: { $natural: 1 }, projection: { offset: 1 } })
        .toArray();
      const seq = natural.map((d) => d.offset as number);
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
      expect(seq).toEqual(Array.from({ length: seq.length }, (_, i) => (seq[0] as number) + i));
    });
  });

  it("serves history after an offset, with recovered and paging", async () => {
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push((await publish(ingest, "hist", i)).body);
    const first = sent[0] as { offset: number; epoch: string };
    const url = `${ingest.url}/v1/channels/hist/messages`;
    const all = (await (
      await fetch(`${url}?since=${first.offset - 1}&epoch=${first.epoch}&limit=3`)
    ).json()) as {
      messages: Array<{ data: number }>;
      recovered: boolean;
      hasMore: boolean;
    };
    expect(all.messages.map((m) => m.data)).toEqual([0, 1, 2]);
    expect(all).toMatchObject({ recovered: true, hasMore: true });
    const latest = (await (await fetch(`${url}?limit=2`)).json()) as { messages: Array<{ data: number }> };
    expect(latest.messages.map((m) => m.data)).toEqual([3, 4]);
    const otherEpoch = (await (await fetch(`${url}?since=1&epoch=not-this-one`)).json()) as {
      recovered: boolean;
    };
    expect(otherEpoch.recovered).toBe(false);
  });

  it("refuses bad input with a clear error and stores nothing", async () => {
    const before = await countDocs();
    const url = `${ingest.url}/v1/channels/chat/messages`;
    const cases: Array<[Promise<{ status: number; body: Record<string, unknown> }>, number, string]> = [
      [post(url, "{not json"), 400, "invalid_json"],
      [post(url, { data: "x".repeat(2 * 1024 * 1024) }), 413, "body_too_large"],
      [post(url, { data: "x".repeat(70 * 1024) }), 413, "message_too_large"],
      [post(url, { event: 5, data: 1 }), 400, "invalid_event"],
      [post(url, { event: "disconnect", data: 1 }), 400, "reserved_event"],
      [post(url, { event: "chat" }), 400, "missing_data"],
      [post(url, [1, 2]), 400, "invalid_body"],
      [
        post(`${ingest.url}/v1/channels/${encodeURIComponent("$where")}/messages`, { data: 1 }),
        400,
        "invalid_channel",
      ],
      [post(`${ingest.url}/v1/channels/${"c".repeat(300)}/messages`, { data: 1 }), 400, "invalid_channel"],
      [
        post(`${ingest.url}/v1/messages`, {
          messages: [
            { channel: "ok", data: 1 },
            { channel: "bad channel", data: 2 },
          ],
        }),
        400,
        "invalid_channel",
      ],
      [
        post(`${ingest.url}/v1/messages`, {
          messages: Array.from({ length: 101 }, () => ({ channel: "a", data: 1 })),
        }),
        413,
        "batch_too_large",
      ],
    ];
    for (const [promise, status, code] of cases) {
      const res = await promise;
      expect({ status: res.status, code: (res.body.error as { code: string })?.code }).toEqual({
        status,
        code,
      });
      expect(Object.keys(res.body)).toEqual(["error"]);
    }
    const wrongType = await fetch(url, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    expect(wrongType.status).toBe(415);
    expect(await countDocs()).toBe(before);
    expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
  });

  it("answers an oversized body with 413 and reads the rest, so the client sees the answer and keeps the connection", async () => {
    // The client writes the rest of its body only after it has read the 413: a server that closed
    // after answering would make these writes fail (EPIPE / reset) every time, not by chance.
    const { port } = new URL(ingest.url);
    const socket = connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    const responses = responseReader(socket);
    const total = 3 * 1024 * 1024;
    const first = Buffer.alloc(64 * 1024, "x");
    socket.write(
      `POST /v1/channels/chat/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`,
    );
    socket.write(first);
    const refused = await responses.next();
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.body).error.code).toBe("body_too_large");
    expect(refused.headers.connection).not.toBe("close");
    const errors: Error[] = [];
    socket.on("error", (err) => errors.push(err));
    for (let sent = first.length; sent < total; sent += first.length) {
      const chunk = first.subarray(0, Math.min(first.length, total - sent));
      if (!socket.write(chunk)) await once(socket, "drain");
    }
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const next = await responses.next();
    expect({ status: next.status, errors }).toEqual({ status: 200, errors: [] });
    socket.destroy();
  });

  it("after a body it answered early and discarded, answers a broken HEAD request on the same connection without a body", async () => {
    // The discarded body's last bytes and the next (malformed) request arrive in one packet: the answer
    // must be the one a HEAD gets, or the client reads the body as junk after `Connection: close`.
    const { port } = new URL(ingest.url);
    const socket = connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    const closed = once(socket, "close");
    socket.write(
      "POST /v1/channels/chat/messages HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 4096\r\n\r\n",
    );
    socket.write(Buffer.alloc(1024, "x"));
    while (!/^HTTP\/1\.1 415 [\s\S]*?\r\n\r\n\{[\s\S]*\}$/.test(received.toString("latin1")))
      await once(socket, "data");
    const first = received.length;
    socket.write(
      Buffer.concat([
        Buffer.alloc(3072, "x"),
        Buffer.from("HEAD /\xed\xf5 HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"),
      ]),
    );
    await closed;
    const second = received.subarray(first).toString("latin1");
    expect(second).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close\r\n\r\n$/);
  });

  it("refuses to start on a collection of the bus's name that is not capped, and leaves it untouched", async () => {
    const other = testDbName("notcapped");
    await withDb(uri, (c) => c.db(other).collection("bus").insertOne({ mine: true }));
    for (const kind of ["functions", "tailer"] as const) {
      const proc = await startComponent({ kind, env: componentEnv({ db: other }) });
      const exit = await proc.exited;
      expect(exit.code).toBe(1);
      expect(proc.output().join("\n")).toMatch(/exists and is not capped/);
    }
    await withDb(uri, async (c) => {
      const docs = await c
        .db(other)
        .collection("bus")
        .find({}, { projection: { _id: 0 } })
        .toArray();
      expect(docs).toEqual([{ mine: true }]);
      await c.db(other).dropDatabase();
    });
  });
});
