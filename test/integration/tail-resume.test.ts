/**
 * The tail loop never stops for good: a cursor killed from outside and a database restart are both
 * survived without loss or duplicate at the subscriber; /readyz tells the truth meanwhile.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Long } from "mongodb";
import { afterAll, describe, expect, inject, it } from "vitest";
import { type DevDb, startFerretDB } from "../../infra/devdb/launcher.ts";
import type { Component } from "../../infra/local/component.ts";
import type { TailStats } from "../../shared/bus/tail-loop.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { post, publish, startFunctions, startTailer, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
});

async function stats(node: Component): Promise<TailStats> {
  return ((await (await fetch(`${node.url}/stats`)).json()) as { tail: TailStats }).tail;
}

/** Polls an endpoint until it answers `status` (the processes give no other signal to await). */
async function until(url: string, status: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = await fetch(url, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (last === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} answered ${last}, not ${status}, for ${timeoutMs} ms`);
}

function expectExactly(sub: Subscriber, ids: unknown[]) {
  expect(sub.received.map((m) => m.id)).toEqual(ids);
}

describe("tail loop resilience", () => {
  it("re-opens after its cursor is killed from outside, without loss or duplicate", async () => {
    const db = testDbName(import.meta.url);
    const ingest = await startFunctions({ db });
    const node = await startTailer({ db });
    cleanup.push(() => stopAll([ingest, node]));
    const sub = await connectSubscriber(node.url);
    cleanup.push(async () => sub.close());
    expect((await sub.subscribe("k")).ok).toBe(true);

    const ids: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      const before = await stats(node);
      expect(before.cursorId).not.toBeNull();
      await withDb(inject("mongodbUri"), async (client) => {
        const res = await client
          .db(db)
          .command({ killCursors: "bus", cursors: [Long.fromString(before.cursorId as string)] });
        expect(res.cursorsKilled.map(String)).toEqual([before.cursorId]);
      });
      for (let i = 0; i < 10; i++) ids.push((await publish(ingest, "k", { round, i })).body.id);
      await sub.waitFor(ids.length);
      const after = await stats(node);
      expect(after.reopens).toBeGreaterThan(before.reopens);
      expect(after.cursorId).not.toBe(before.cursorId);
    }
    expectExactly(sub, ids);
  });

  it("survives a database restart mid-stream: 503 while down, resumes on its own, nothing lost or duplicated", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tailcast-restart-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    let server: DevDb = await startFerretDB({ dir });
    const port = server.port;
    cleanup.push(() => server.stop());
    const db = testDbName(import.meta.url);
    const env = { TAILCAST_WRITE_TIMEOUT_MS: "1000" };
    const ingest = await startFunctions({ db, uri: server.uri, env });
    const nodes = await Promise.all([
      startTailer({ db, uri: server.uri }),
      startTailer({ db, uri: server.uri }),
    ]);
    cleanup.push(() => stopAll([ingest, ...nodes]));
    const subs = await Promise.all(nodes.map((n) => connectSubscriber(n.url)));
    cleanup.push(async () => {
      for (const s of subs) s.close();
    });
    for (const s of subs) expect((await s.subscribe("r")).ok).toBe(true);

    // A publisher that keeps going through the outage, retrying refused messages under the same key.
    const acked: Array<{ id: unknown; offset: number }> = [];
    const refusals: number[] = [];
    let stopPublishing = false;
    const publisher = (async () => {
      for (let i = 0; !stopPublishing; i++) {
        for (;;) {
          const res = await post(
            `${ingest.url}/v1/channels/r/messages`,
            { data: i },
            { "Idempotency-Key": `m-${i}` },
          ).catch(() => null);
          if (res?.status === 201) {
            acked.push({ id: res.body.id, offset: res.body.offset as number });
            break;
          }
          // A refusal, or no answer at all (what a real publisher also retries); never a 5xx other than 503.
          if (res !== null && res.status !== 503 && res.status !== 409) {
            const said = ingest.output().slice(-10).join("\n");
            throw new Error(
              `publish answered ${res.status} ${JSON.stringify(res.body)}; ingest said:\n${said}`,
            );
          }
          if (res?.status === 503) expect(res.headers.get("retry-after")).toBe("1");
          if (stopPublishing) return;
          refusals.push(i);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    // Waits on the publisher too, so a publish answered wrongly fails the test at once.
    const ackedAtLeast = async (n: number) => {
      while (acked.length < n) await Promise.race([publisher, new Promise((r) => setTimeout(r, 20))]);
    };

    await ackedAtLeast(20);
    await server.stop();
    await until(`${ingest.url}/readyz`, 503);
    for (const n of nodes) await until(`${n.url}/readyz`, 503);
    while (refusals.length < 3) await new Promise((r) => setTimeout(r, 20));

    server = await startFerretDB({ dir, port });
    await until(`${ingest.url}/readyz`, 200);
    for (const n of nodes) await until(`${n.url}/readyz`, 200);
    const resumedAt = acked.length;
    await ackedAtLeast(resumedAt + 20);
    stopPublishing = true;
    await publisher;

    const expected = [...acked].sort((x, y) => x.offset - y.offset).map((m) => m.id);
    expect(new Set(expected).size).toBe(expected.length);
    for (const s of subs) {
      await s.waitFor(expected.length);
      expectExactly(s, expected);
    }
    for (const n of nodes) expect((await stats(n)).gaps).toBe(0);
  });
});
