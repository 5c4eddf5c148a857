// The dev database launcher against a real FerretDB (never mocked: docs/ferretdb.md). Uses startFerretDB, which
// ignores MONGODB_URI, because these tests stop and restart the server and check its process lifecycle.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureFerretDB } from "../../infra/devdb/ferretdb-build.ts";
import { type DevDb, startFerretDB } from "../../infra/devdb/launcher.ts";

const TEST_TIMEOUT = 180_000;
const quiet = { log: () => {} };
const ORPHAN_HELPER = fileURLToPath(new URL("../helpers/devdb-orphan-parent.ts", import.meta.url));

async function withClient<T>(uri: string, fn: (c: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Alive unless gone or a zombie (our PID 1 may not reap re-parented orphans promptly). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("dev database launcher (FerretDB)", () => {
  let dir: string;
  const started: DevDb[] = [];

  beforeAll(async () => {
    await ensureFerretDB(); // first run builds it (~90 s), with progress on stderr
    dir = await mkdtemp(join(tmpdir(), "tailcast-devdb-test-"));
  }, 300_000);

  afterAll(async () => {
    await Promise.all(started.map((db) => db.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it(
    "keeps data across a stop and restart on the same port and dir",
    async () => {
      const first = await startFerretDB({ dir, ...quiet });
      started.push(first);
      expect(first.uri).toBe(`mongodb://127.0.0.1:${first.port}/`);
      expect(first.kind).toBe("ferretdb");
      await withClient(first.uri, async (c) => {
        expect(await c.db("admin").command({ ping: 1 })).toMatchObject({ ok: 1 });
        await c
          .db("devdb_test")
          .collection("docs")
          .insertOne({ _id: "kept", n: 42 } as never);
      });

      await first.stop();
      // FerretDB shuts down on the first SIGTERM: a SIGKILL after the grace period would show as the signal.
      expect(await first.exited).toEqual({ code: 0, signal: null });
      expect(await portAccepts(first.port)).toBe(false);
      expect((await stat(dir)).isDirectory()).toBe(true); // a given dir is kept

      const second = await startFerretDB({ port: first.port, dir, ...quiet });
      started.push(second);
      expect(second.pid).not.toBe(first.pid);
      const doc = await withClient(second.uri, (c) =>
        c
          .db("devdb_test")
          .collection("docs")
          .findOne({ _id: "kept" } as never),
      );
      expect(doc).toEqual({ _id: "kept", n: 42 });
      await second.stop();
    },
    TEST_TIMEOUT,
  );

  it(
    "removes its own temp dir on stop and refuses a busy port",
    async () => {
      const db = await startFerretDB(quiet);
      started.push(db);
      await expect(startFerretDB({ port: db.port, ...quiet })).rejects.toThrow(/already in use/);
      await db.stop();
      await expect(stat(db.dir)).rejects.toMatchObject({ code: "ENOENT" });
    },
    TEST_TIMEOUT,
  );

  it(
    "leaves no server behind when its parent process is SIGKILLed",
    async () => {
      const child = spawn(process.execPath, ["--import", "tsx", ORPHAN_HELPER, join(dir, "orphan")], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise((r) => child.once("exit", r));
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`helper exited early (code ${code})`)));
      });
      const { parent, server } = JSON.parse(line) as { parent: number; server: number };
      expect(parent).toBe(child.pid);
      expect(isAlive(server)).toBe(true);

      child.kill("SIGKILL"); // no 'exit' handler runs: only pdeathsig can take the server down
      await exited;
      await waitUntil(`FerretDB pid ${server} is gone`, () => !isAlive(server));
    },
    TEST_TIMEOUT,
  );
});
