/**
 * G5, honest gaps: a client whose `since` is older than the bus retains, and a tailer that fell
 * behind retention, are told (`recovered: false`, counted gaps) — never silently skipped. The bus is
 * tiny; FerretDB trims it in a background job every second (the dev launcher's setting).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { post, publish, startFunctions, startTailer, stopAll, testDbName, withDb } from "../helpers/stack.ts";
import { connectSubscriber, type Subscriber } from "../helpers/subscriber.ts";

const db = testDbName(import.meta.url);
const env = {
  TAILCAST_BUS_MAX_DOCS: "30",
  TAILCAST_BUS_SIZE_BYTES: "1048576",
  TAILCAST_RECOVERY_WINDOW: "5",
};
let ingest: Component;
let node: Component;
const subs: Subscriber[] = [];

beforeAll(async () => {
  ingest = await startFunctions({ db, env });
  node = await startTailer({ db, env });
});
afterAll(async () => {
  for (const s of subs) s.close();
  await stopAll([ingest, node]);
});

interface Stats {
  tail: { position: { offset: number; epoch: string }; gaps: number; missed: number };
  recovery: { unrecovered: number };
}
const stats = async (c: Component) => (await (await fetch(`${c.url}/stats`)).json()) as Stats;

async function flood(count: number, channel: string): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    const messages = Array.from({ length: Math.min(50, count - i) }, (_, j) => ({ channel, data: i + j }));
    expect((await post(`${ingest.url}/v1/messages`, { messages })).status).toBe(201);
  }
}

/** Waits (polling the bus: eviction sends no event) until the oldest retained offset is past `offset`. */
async function evictedPast(offset: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const oldest = await withDb(inject("mongodbUri"), (c) =>
      c
        .db(db)
        .collection("bus")
        .findOne({}, { sort: { offset: 1 }, projection: { offset: 1 } }),
    );
    if ((oldest?.offset as number) > offset) return;
    if (Date.now() > deadline) throw new Error(`bus still holds offset ${oldest?.offset} <= ${offset}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("honest gaps (G5)", () => {
  it("tells a client whose since is older than the bus retains: recovered false, counted, then live", async () => {
    const first = await publish(ingest, "old", "first");
    const since = { offset: first.body.offset as number, epoch: first.body.epoch as string };
    await flood(120, "old");
    await evictedPast(since.offset + 1);
    const before = (await stats(node)).recovery.unrecovered;

    const s = await connectSubscriber(node.url);
    subs.push(s);
    const ack = await s.subscribe("old", since);
    expect(ack).toMatchObject({ ok: true, recovered: false });
    expect((await stats(node)).recovery.unrecovered).toBe(before + 1);
    const history = (await (
      await fetch(`${ingest.url}/v1/channels/old/messages?since=${since.offset}&epoch=${since.epoch}`)
    ).json()) as { recovered: boolean };
    expect(history.recovered).toBe(false);

    const marker = s.received.length;
    await publish(ingest, "old", "live");
    await s.waitFor(marker + 1);
    expect(s.received.at(-1)?.data).toBe("live");
  });

  it("counts and logs a gap when the tailer itself fell behind retention, and keeps delivering", async () => {
    const s = await connectSubscriber(node.url);
    subs.push(s);
    expect((await s.subscribe("frozen")).ok).toBe(true);
    const before = await stats(node);
    process.kill(node.pid, "SIGSTOP");
    try {
      await flood(150, "frozen");
      await evictedPast(before.tail.position.offset + 1);
    } finally {
      process.kill(node.pid, "SIGCONT");
    }
    const live = await publish(ingest, "frozen", "after the gap");
    await expect
      .poll(async () => s.received.some((m) => m.id === live.body.id), { timeout: 30_000 })
      .toBe(true);
    const after = await stats(node);
    expect(after.tail.gaps).toBeGreaterThan(before.tail.gaps);
    expect(after.tail.missed).toBeGreaterThan(before.tail.missed);
    // What it did deliver is in order with no duplicate, and nothing older than the gap was invented.
    const offsets = s.received.filter((m) => m.channel === "frozen").map((m) => m.offset);
    expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));
    expect(node.output().join("\n")).toMatch(/fell behind the bus/);
  });
});
