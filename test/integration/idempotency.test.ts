/**
 * G7: the same Idempotency-Key from the same publisher stores one message and returns the original
 * receipt — retried one after another, ten at once, across two function processes, and in batches.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { post, startFunctions, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
let a: Component;
let b: Component;

beforeAll(async () => {
  [a, b] = await Promise.all([startFunctions({ db }), startFunctions({ db })]);
});
afterAll(() => stopAll([a, b]));

const stored = (channel: string) =>
  withDb(uri, (c) =>
    c
      .db(db)
      .collection("bus")
      .find({ channel }, { projection: { _id: 1, offset: 1 } })
      .toArray(),
  );

const publishKeyed = (via: Component, channel: string, key: string, data: unknown) =>
  post(`${via.url}/v1/channels/${channel}/messages`, { event: "order", data }, { "Idempotency-Key": key });

describe("idempotent publish (G7)", () => {
  it("stores a message once when the same key is retried one after another", async () => {
    const first = await publishKeyed(a, "seq", "key-seq-1", { n: 1 });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    for (const via of [a, b, a]) {
      const again = await publishKeyed(via, "seq", "key-seq-1", { n: 1 });
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
    }
    const docs = await stored("seq");
    expect(docs.map((d) => d._id)).toEqual([first.body.id]);
  });

  it("stores a message once when ten retries race across two processes", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => publishKeyed(i % 2 ? a : b, "race", "key-race-1", { n: 2 })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    const bodies = new Set(results.map((r) => JSON.stringify(r.body)));
    expect(bodies.size).toBe(1);
    expect(results.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1);
    const docs = await stored("race");
    expect(docs).toHaveLength(1);
    expect(docs[0]?._id).toBe(results[0]?.body.id);
  });

  it("keeps different keys apart and refuses a key reused for a different message", async () => {
    const one = await publishKeyed(a, "diff", "key-d-1", "x");
    const two = await publishKeyed(a, "diff", "key-d-2", "x");
    expect(one.body.id).not.toBe(two.body.id);
    const reused = await publishKeyed(b, "diff", "key-d-1", "y");
    expect(reused.status).toBe(422);
    expect(reused.body).toEqual({ error: { code: "idempotency_key_reused", message: expect.any(String) } });
    const badKey = await publishKeyed(a, "diff", "has space", "x");
    expect(badKey.status).toBe(400);
    expect((badKey.body.error as { code: string }).code).toBe("invalid_idempotency_key");
    expect(await stored("diff")).toHaveLength(2);
  });

  it("dedupes per message in a batch, returning original receipts in order", async () => {
    const batch = (items: Array<[string, string | undefined]>) =>
      post(`${a.url}/v1/messages`, {
        messages: items.map(([data, key]) => ({
          channel: "batch",
          data,
          ...(key ? { idempotencyKey: key } : {}),
        })),
      });
    const first = await batch([
      ["a", "k-a"],
      ["b", "k-b"],
    ]);
    expect(first.status).toBe(201);
    const [ra, rb] = first.body.results as Array<{ id: string; offset: number }>;
    const second = await batch([
      ["b", "k-b"],
      ["c", "k-c"],
      ["free", undefined],
      ["a", "k-a"],
    ]);
    expect(second.status).toBe(201);
    const results = second.body.results as Array<{ id: string; offset: number }>;
    expect(results[0]).toEqual(rb);
    expect(results[3]).toEqual(ra);
    expect(results[1]?.offset).toBeGreaterThan(rb?.offset as number);
    expect(results[2]?.offset).toBe((results[1]?.offset as number) + 1);
    expect(await stored("batch")).toHaveLength(4);
    const dup = await batch([
      ["x", "k-x"],
      ["y", "k-x"],
    ]);
    expect(dup.status).toBe(400);
    expect(await stored("batch")).toHaveLength(4);
  });
});
