/**
 * Changing TAILCAST_BUSES (README "Changing the number of buses"): with the write side stopped, every
 * component restarts with the new count. A channel that stays in its bus keeps its epoch and offsets:
 * its clients resume exactly. A channel that moves lands in a bus of another epoch: its clients get
 * `recovered: false` once, then everything published after the change — never a silent gap.
 */
import { afterAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { busCollectionName } from "../../shared/bus/partition.ts";
import type { Envelope } from "../../shared/message.ts";
import { channelIn } from "../helpers/bus-set-writer.ts";
import { RecordingClient } from "../helpers/recording-client.ts";
import { publish, startFunctions, startTailer, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
// With two buses `stays` hashes to bus 0 (where every channel is with one bus) and `moves` to bus 1.
const stays = channelIn(0, 2, "count-change");
const moves = channelIn(1, 2, "count-change");

const running: Component[] = [];
const client = new RecordingClient("resharded", ["message"]);
afterAll(async () => {
  client.close();
  await stopAll(running);
});

async function start(buses: number): Promise<{ ingest: Component; tailer: Component }> {
  const env = { TAILCAST_BUSES: String(buses) };
  const [ingest, tailer] = await Promise.all([startFunctions({ db, env }), startTailer({ db, env })]);
  running.push(ingest, tailer);
  return { ingest, tailer };
}

async function send(ingest: Component, channel: string, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await publish(ingest, channel, { tag, i });
    expect(res.status).toBe(201);
    ids.push(res.body.id as string);
  }
  return ids;
}

const idsOf = (list: Envelope[]) => list.map((m) => m.id);

describe("changing the number of buses from 1 to 2", () => {
  it("resumes a channel that stays exactly, and tells the clients of a channel that moves", async () => {
    const one = await start(1);
    await client.connect(one.tailer.url);
    await client.subscribe(stays);
    await client.subscribe(moves);
    const before = {
      stays: await send(one.ingest, stays, 3, "before"),
      moves: await send(one.ingest, moves, 3, "before"),
    };
    await client.waitForIds([...before.stays, ...before.moves]);
    const oldEpoch = client.position(moves)?.epoch;
    expect(client.position(stays)?.epoch).toBe(oldEpoch);

    // The procedure: the write side and the tailers stop, then everything starts with the new count.
    await stopAll([one.ingest, one.tailer]);
    client.close();
    const two = await start(2);
    const during = {
      stays: await send(two.ingest, stays, 2, "after"),
      moves: await send(two.ingest, moves, 2, "after"),
    };
    // Stored where the new count puts them: `moves` in bus 1, `stays` still in bus 0.
    const where = await withDb(uri, async (c) => ({
      moves: await c.db(db).collection(busCollectionName("bus", 1)).countDocuments({ channel: moves }),
      stays: await c.db(db).collection("bus").countDocuments({ channel: stays }),
    }));
    expect(where).toEqual({ moves: 2, stays: 5 });

    const acks = await client.resume(two.tailer.url);
    expect(acks.get(stays)).toMatchObject({ recovered: true, epoch: oldEpoch });
    const moved = acks.get(moves);
    expect(moved?.recovered).toBe(false);
    expect(moved?.epoch).not.toBe(oldEpoch);

    // Live from here on, on both channels.
    const live = {
      stays: await send(two.ingest, stays, 1, "live"),
      moves: await send(two.ingest, moves, 1, "live"),
    };
    await client.waitForIds([...during.stays, ...live.stays, ...live.moves]);
    expect(idsOf(client.of(stays))).toEqual([...before.stays, ...during.stays, ...live.stays]);
    // The moved channel: what it had, then (in order, once each) whatever of the new bus the resume
    // replayed, ending with the live message.
    const movedIds = idsOf(client.of(moves));
    expect(movedIds.slice(0, 3)).toEqual(before.moves);
    expect(new Set(movedIds).size).toBe(movedIds.length);
    expect(movedIds.at(-1)).toBe(live.moves[0]);
    for (const id of movedIds.slice(3)) expect([...during.moves, ...live.moves]).toContain(id);
    expect(client.anomalies).toEqual([]);
  });
});
