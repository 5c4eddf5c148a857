/**
 * The client is replaced when a server monitor stops checking (shared/mongo.ts), and only then: a
 * database that is down or hangs makes checks fail, which is the driver working.
 *
 * A stuck monitor is made for real: with the socket timeout off (connectTimeoutMS 0) a check sent to a
 * database that stops answering never ends, which is what a driver left waiting on a dead socket looks
 * like (README "Known issues").
 */
import { afterAll, describe, expect, inject, it } from "vitest";
import { createLogger } from "../../shared/log.ts";
import { createMongo, type MongoHandle } from "../../shared/mongo.ts";
import { testDbName, withDb } from "../helpers/stack.ts";
import { type StallProxy, startStallProxy } from "../helpers/stall-proxy.ts";

const dbName = testDbName(import.meta.url);
const uri = inject("mongodbUri");
const cleanup: Array<MongoHandle | StallProxy> = [];
afterAll(async () => {
  await Promise.all(cleanup.map((c) => c.close()));
  await withDb(uri, (c) => c.db(dbName).dropDatabase());
});

/** A handle through a proxy, and a promise of its first replacement's log line. */
async function handle(options: { connectTimeoutMS: number; stuckCheckMs?: number }) {
  const proxy = await startStallProxy(uri);
  let replaced!: (line: string) => void;
  const replacement = new Promise<string>((r) => {
    replaced = r;
  });
  const log = createLogger("test", {
    write: (line) => {
      if (line.includes("database client replaced")) replaced(line);
    },
  });
  const mongo = createMongo(proxy.uri, dbName, "mongo-client-replace-test", {
    log,
    heartbeatFrequencyMS: 500,
    ...options,
  });
  cleanup.push(mongo, proxy);
  return { proxy, mongo, replacement };
}

/** Resolves after `n` more failed checks of the handle's current client. */
async function failedChecks(mongo: MongoHandle, n: number): Promise<void> {
  const { client } = await mongo.db();
  await new Promise<void>((resolve) => {
    let left = n;
    const onFailed = () => {
      left -= 1;
      if (left > 0) return;
      client.off("serverHeartbeatFailed", onFailed);
      resolve();
    };
    client.on("serverHeartbeatFailed", onFailed);
  });
}

describe("database client replacement", () => {
  it("replaces a client whose monitor stopped checking; what was built on it is made again", async () => {
    const { proxy, mongo, replacement } = await handle({ connectTimeoutMS: 0, stuckCheckMs: 1500 });
    let made = 0;
    const things = mongo.cached(async (db) => {
      made += 1;
      return db.collection<{ n: number }>("things");
    });
    const before = await things();
    await before.insertOne({ n: 1 });
    const oldClient = (await mongo.db()).client;

    proxy.stall(); // the next check is sent and never answered, and nothing times it out
    const line = JSON.parse(await replacement) as { servers: string[]; limitMs: number };
    expect(line.servers).toEqual([new URL(proxy.uri).host]);
    expect(line.limitMs).toBe(1500);
    expect(mongo.replacements()).toBe(1);

    proxy.heal();
    const after = await things();
    expect(made).toBe(2);
    expect(after).not.toBe(before);
    expect((await mongo.db()).client).not.toBe(oldClient);
    await after.insertOne({ n: 2 });
    expect(await after.countDocuments({})).toBe(2);
  });

  it("keeps the client while the database is down, then uses it again", async () => {
    // Checks are timed out at 300 ms, so the 1,100 ms limit is never reached by a working monitor.
    const { proxy, mongo } = await handle({ connectTimeoutMS: 300 });
    const things = mongo.cached(async (db) => db.collection<{ n: number }>("down"));
    await (await things()).insertOne({ n: 1 });
    const client = (await mongo.db()).client;

    const failed = failedChecks(mongo, 4); // at 500 ms apart: well past the limit
    proxy.cut();
    await failed;
    proxy.heal();
    await (await things()).insertOne({ n: 2 });
    expect((await mongo.db()).client).toBe(client);
    expect(mongo.replacements()).toBe(0);
  });

  it("keeps the client while the database hangs, then uses it again", async () => {
    const { proxy, mongo } = await handle({ connectTimeoutMS: 300 });
    const things = mongo.cached(async (db) => db.collection<{ n: number }>("hangs"));
    await (await things()).insertOne({ n: 1 });
    const client = (await mongo.db()).client;

    const failed = failedChecks(mongo, 4);
    proxy.stall(); // each check times out at 300 ms and fails: the monitor is working
    await failed;
    proxy.heal();
    await (await things()).insertOne({ n: 2 });
    expect((await mongo.db()).client).toBe(client);
    expect(mongo.replacements()).toBe(0);
  });
});
