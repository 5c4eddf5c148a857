/**
 * The bus dropped (or replaced) under a running ingest function: /readyz says so at once, the function
 * sets the bus up again (capped, unique offset index, a new epoch) instead of answering 503 forever,
 * and a collection of that name that is not capped is refused clearly, never written to.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { publish, startFunctions, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
let fn: Component;

beforeAll(async () => {
  fn = await startFunctions({ db });
});
afterAll(() => stopAll([fn]));

const readyz = async () => {
  const res = await fetch(`${fn.url}/readyz`);
  await res.body?.cancel();
  return res.status;
};

const busInfo = () =>
  withDb(uri, async (c) => {
    const [info] = await c.db(db).listCollections({ name: "bus" }).toArray();
    const indexes = info ? await c.db(db).collection("bus").listIndexes().toArray() : [];
    return {
      capped: (info as { options?: { capped?: boolean } } | undefined)?.options?.capped === true,
      uniqueOffset: indexes.some((i) => i.name === "offset_1" && i.unique === true),
    };
  });

describe("a dropped bus", () => {
  it("is reported by /readyz and set up again by the next publish, in a new epoch", async () => {
    const before = await publish(fn, "drop", { n: 1 });
    expect(before.status).toBe(201);
    expect(await readyz()).toBe(200);

    await withDb(uri, (c) => c.db(db).collection("bus").drop());
    expect(await readyz()).toBe(503);

    const after = await publish(fn, "drop", { n: 2 });
    expect(after.status).toBe(201);
    expect(after.body.epoch).not.toBe(before.body.epoch);
    expect(await busInfo()).toEqual({ capped: true, uniqueOffset: true });
    expect(await readyz()).toBe(200);
  });

  it("is also set up again when a publish comes first, before any probe", async () => {
    const before = await publish(fn, "drop2", { n: 1 });
    await withDb(uri, (c) => c.db(db).collection("bus").drop());
    const after = await publish(fn, "drop2", { n: 2 });
    expect(after.status).toBe(201);
    expect(after.body.epoch).not.toBe(before.body.epoch);
    expect(await busInfo()).toEqual({ capped: true, uniqueOffset: true });
  });

  it("replaced by a collection that is not capped is refused clearly: 503 on /readyz, bus_not_capped on publish", async () => {
    await withDb(uri, async (c) => {
      await c.db(db).collection("bus").drop();
      await c.db(db).collection("bus").insertOne({ someone: "else" });
    });
    expect(await readyz()).toBe(503);
    const refused = await publish(fn, "drop3", { n: 1 });
    expect(refused.status).toBe(500);
    expect((refused.body.error as { code: string }).code).toBe("bus_not_capped");
    const docs = await withDb(uri, (c) => c.db(db).collection("bus").find({}).toArray());
    expect(docs).toHaveLength(1);
  });
});
