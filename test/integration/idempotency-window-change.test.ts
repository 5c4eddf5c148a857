/**
 * Changing TAILCAST_IDEMPOTENCY_WINDOW_SEC between starts: the function must keep serving keyed
 * publishes (on MongoDB the TTL index is changed; FerretDB has no TTL indexes: docs/ferretdb.md), and a
 * key stored before the change is still answered with its receipt.
 */
import { afterAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { post, startFunctions, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
const started: Component[] = [];
afterAll(() => stopAll(started));

const start = async (windowSec: number) => {
  const c = await startFunctions({ db, env: { TAILCAST_IDEMPOTENCY_WINDOW_SEC: String(windowSec) } });
  started.push(c);
  return c;
};
const publishKeyed = (via: Component, key: string) =>
  post(`${via.url}/v1/channels/w/messages`, { data: key }, { "Idempotency-Key": key });

describe("idempotency window change", () => {
  it("keeps serving keyed publishes after the window changed, and updates the TTL where there is one", async () => {
    const first = await start(7200);
    const before = await publishKeyed(first, "k-1");
    expect(before.status).toBe(201);
    await first.stop();

    const second = await start(3600);
    const replay = await publishKeyed(second, "k-1");
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(before.body);
    const fresh = await publishKeyed(second, "k-2");
    expect(fresh.status).toBe(201);

    const ttl = await withDb(uri, async (c) => {
      const indexes = await c.db(db).collection("bus_idempotency").listIndexes().toArray();
      return indexes.find((i) => i.name === "at_ttl")?.expireAfterSeconds as number | undefined;
    });
    if (ttl === undefined) {
      console.info("this server has no TTL indexes (FerretDB): only the publishes were checked");
    } else {
      expect(ttl).toBe(3600);
    }
  });
});
