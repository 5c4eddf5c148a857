/**
 * Setting up the idempotency store's TTL index (shared/bus/idempotency.ts ensureIdempotencyStore) when
 * the configured TTL changed since the index was made: MongoDB answers IndexOptionsConflict (85) to the
 * create, and the index must be changed, not the start refused. A fake database with MongoDB's answers.
 */
import { type Db, MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { ensureIdempotencyStore } from "../../shared/bus/idempotency.ts";

/** A database holding index TTLs by name, answering as MongoDB does (or as FerretDB, `ttl: false`). */
function fakeDb(opts: { ttl?: boolean; collMod?: boolean; existing?: number } = {}) {
  const indexes = new Map<string, number>();
  if (opts.existing !== undefined) indexes.set("at_ttl", opts.existing);
  const commands: Array<Record<string, unknown>> = [];
  const keys = {
    createIndex: async (_spec: unknown, o: { name: string; expireAfterSeconds: number }) => {
      if (opts.ttl === false) {
        throw new MongoServerError({ message: "not implemented", code: 238 });
      }
      const had = indexes.get(o.name);
      if (had !== undefined && had !== o.expireAfterSeconds) {
        throw new MongoServerError({ message: "An equivalent index already exists", code: 85 });
      }
      indexes.set(o.name, o.expireAfterSeconds);
      return o.name;
    },
    dropIndex: async (name: string) => {
      indexes.delete(name);
    },
  };
  const db = {
    collection: () => keys,
    command: async (cmd: { collMod: string; index: { name: string; expireAfterSeconds: number } }) => {
      commands.push(cmd);
      if (opts.collMod === false) throw new MongoServerError({ message: "unauthorized", code: 13 });
      indexes.set(cmd.index.name, cmd.index.expireAfterSeconds);
      return { ok: 1 };
    },
  } as unknown as Db;
  return { db, indexes, commands };
}

describe("idempotency TTL index", () => {
  it("is created with the configured TTL", async () => {
    const f = fakeDb();
    await ensureIdempotencyStore(f.db, "bus", 600);
    expect(f.indexes.get("at_ttl")).toBe(600);
  });

  it("is changed in place with collMod when the configured TTL changed", async () => {
    const f = fakeDb({ existing: 86400 });
    await ensureIdempotencyStore(f.db, "bus", 3600);
    expect(f.indexes.get("at_ttl")).toBe(3600);
    expect(f.commands).toEqual([
      { collMod: "bus_idempotency", index: { name: "at_ttl", expireAfterSeconds: 3600 } },
    ]);
  });

  it("is dropped and made again where collMod is refused", async () => {
    const f = fakeDb({ existing: 86400, collMod: false });
    await ensureIdempotencyStore(f.db, "bus", 3600);
    expect(f.indexes.get("at_ttl")).toBe(3600);
  });

  it("is done without on a server that has no TTL indexes (FerretDB)", async () => {
    const f = fakeDb({ ttl: false });
    await expect(ensureIdempotencyStore(f.db, "bus", 3600)).resolves.toBeDefined();
    expect(f.indexes.size).toBe(0);
  });
});
