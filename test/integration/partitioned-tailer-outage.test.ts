/**
 * One deployment of a partitioned bus set goes down, seen from a tailer (README "Tail on demand and
 * affinity", Readiness): two buses, each reached at its own address (TAILCAST_BUS_URIS) through a proxy
 * that can cut it like a deployment that is down, a tailer with a subscriber on a channel of each, a
 * publisher per channel that retries under the same Idempotency-Key until acknowledged. Bus 1 is cut:
 * the node stays ready (bus 0 answers), bus 0's subscriber keeps getting every acknowledged message, a
 * new subscribe to bus 1 is refused with `bus_unavailable` at once, and /stats and /status.json say
 * which bus is down. With bus 0 cut too the node is not ready. Both come back: every subscriber ends
 * with exactly the acknowledged messages of its channel, in order, and the refused client gets in.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import type { Envelope } from "../../shared/message.ts";
import { withTimeout } from "../../shared/promises.ts";
import type { SubscribeAck } from "../../shared/protocol/replies.ts";
import type { BusStats } from "../../tailer/buses.ts";
import type { FleetStatus } from "../../tailer/status.ts";
import { channelIn } from "../helpers/bus-set-writer.ts";
import { pollUntil } from "../helpers/guarantees.ts";
import { RecordingClient, type Subscriber } from "../helpers/recording-client.ts";
import { post, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";
import { type StallProxy, startStallProxy } from "../helpers/stall-proxy.ts";

const db = testDbName(import.meta.url);
const [ch0, ch1] = [channelIn(0, 2, "outage"), channelIn(1, 2, "outage")] as [string, string];
/** Bus 0's and bus 1's way to the database: cut() is the deployment down, heal() back. */
let deployments: [StallProxy, StallProxy];
/** The ingest the publishers post to, through the whole outage. */
let ingest: Component;
let env: Record<string, string>;
let node: Component;
const subscribers: Subscriber[] = [];

beforeAll(async () => {
  const uri = inject("mongodbUri");
  deployments = [await startStallProxy(uri), await startStallProxy(uri)];
  env = {
    TAILCAST_BUSES: "2",
    TAILCAST_BUS_URIS: deployments.map((d) => d.uri).join(","),
    // Outages show within a fraction of a second: the per-bus checks and the writes' own timeouts.
    TAILCAST_LAG_INTERVAL_MS: "200",
    TAILCAST_WRITE_TIMEOUT_MS: "1000",
    TAILCAST_APPEND_TIMEOUT_MS: "1000",
    TAILCAST_LOG_LEVEL: "info",
  };
  // Bus 0's deployment also holds the idempotency store and the fleet's heartbeats.
  ingest = await startFunctions({ db, uri: deployments[0].uri, env });
  node = await startTailer({ db, uri: deployments[0].uri, env });
}, 120_000);

afterAll(async () => {
  for (const s of subscribers) s.close();
  await stopAll([ingest, node]);
  for (const d of deployments ?? []) await d.close();
});

async function subscriber(name: string): Promise<Subscriber> {
  const s = new RecordingClient(name);
  await s.connect(node.url);
  subscribers.push(s);
  return s;
}

interface Acked {
  id: string;
  offset: number;
}

/** A publisher of one channel that keeps going through outages: each message is retried under its key until 201. */
function keptPublisher(channel: string) {
  const acked: Acked[] = [];
  const refusals: number[] = [];
  let lastRefusal = "none";
  let stopping = false;
  const done = (async () => {
    for (let i = 0; !stopping; i++) {
      for (;;) {
        // Bounded: a request the ingest never answers counts as no answer, and is retried.
        const res = await withTimeout(
          post(
            `${ingest.url}/v1/channels/${channel}/messages`,
            { data: i },
            { "Idempotency-Key": `${channel}-${i}` },
          ),
          15_000,
        ).catch(() => null);
        if (res?.status === 201) {
          acked.push({ id: res.body.id as string, offset: res.body.offset as number });
          break;
        }
        // A refusal to retry (the bus, or the idempotency store beside bus 0, is down), or no answer.
        if (res !== null) expect([503, 409]).toContain(res.status);
        lastRefusal = res === null ? "no answer" : `${res.status} ${JSON.stringify(res.body)}`;
        refusals.push(i);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    acked,
    refusals,
    ackedAtLeast: (n: number) =>
      pollUntil(
        `${n} acknowledged on ${channel}`,
        async () => {
          if (acked.length >= n) return true;
          const said = ingest.output().slice(-8).join("\n");
          throw new Error(
            `${acked.length} acknowledged, last refusal: ${lastRefusal}; ingest said:\n${said}`,
          );
        },
        60_000,
      ),
    stop: async () => {
      stopping = true;
      await done;
    },
  };
}

const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${node.url}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as T };
};
const buses = async () => (await get<{ buses: BusStats[] }>("/stats")).body.buses;
const readyz = async () => (await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
const untilReady = (status: number) =>
  pollUntil(`/readyz ${status}`, async () => ((await readyz()) === status ? true : undefined), 60_000);
const answering = async () => (await buses()).map((b) => b.answering);

function expectExactly(received: Envelope[], acked: Acked[]) {
  const expected = [...acked].sort((a, b) => a.offset - b.offset).map((m) => m.id);
  expect(new Set(expected).size).toBe(expected.length);
  expect(received.map((m) => m.id)).toEqual(expected);
}

const subscribeOnce = (s: Subscriber, channel: string): Promise<SubscribeAck> =>
  s.socket.timeout(10_000).emitWithAck("subscribe", { channel });

describe("a tailer over two buses with one deployment down", () => {
  it("stays ready, serves the live bus, refuses the dead one's subscribes, and resumes exactly", async () => {
    const [s0, s1] = [await subscriber("s0"), await subscriber("s1")];
    await s0.subscribe(ch0);
    await s1.subscribe(ch1);
    expect(await answering()).toEqual([true, true]);
    const [p0, p1] = [keptPublisher(ch0), keptPublisher(ch1)];
    await Promise.all([p0.ackedAtLeast(10), p1.ackedAtLeast(10)]);

    // Bus 1's deployment goes down.
    deployments[1].cut();
    await pollUntil("bus 1 reported down", async () => {
      const [b0, b1] = await buses();
      return b0?.answering === true && b1?.answering === false ? true : undefined;
    });
    expect(await readyz()).toBe(200);
    const refusedBefore = p1.refusals.length;
    // Bus 0's subscriber keeps getting everything published meanwhile.
    const during = p0.acked.length;
    await p0.ackedAtLeast(during + 20);
    await s0.waitForIds(p0.acked.slice(during).map((m) => m.id));
    // Bus 1's publishes are refused meanwhile (each after the write's own timeout): nothing acknowledged.
    await pollUntil(
      "a refused publish on bus 1",
      async () => p1.refusals.length > refusedBefore || undefined,
    );
    // A new subscribe to the dead bus is refused, retryable, rather than accepted onto a tail that
    // delivers nothing (subscribeOnce gives up after 10 s: a subscribe left waiting fails the test).
    const late = await subscriber("late");
    const refused = await subscribeOnce(late, ch1);
    expect(refused).toMatchObject({ ok: false, error: { code: "bus_unavailable" } });
    // The status page says which bus is down, and still shows the other.
    const published = p0.acked.at(-1)?.offset as number;
    const status = await get<FleetStatus>("/status.json");
    expect(status.status).toBe(200);
    const [row0, row1] = status.body.buses;
    expect(row0).toMatchObject({ index: 0, collection: "bus", tailing: true, answering: true, error: null });
    expect(row1).toMatchObject({ index: 1, collection: "bus_1", tailing: true, answering: false });
    expect(row1?.error).toEqual(expect.any(String));
    expect(row0?.newestOffset).toBeGreaterThanOrEqual(published);

    // Every bus down: not ready.
    deployments[0].cut();
    await untilReady(503);
    deployments[0].heal();
    await untilReady(200);
    expect(await answering()).toEqual([true, false]);

    // Bus 1 back: its subscriber gets every acknowledged message, and the refused client gets in.
    deployments[1].heal();
    await pollUntil("bus 1 answering again", async () =>
      (await answering())[1] === true ? true : undefined,
    );
    // The client's side of a retryable refusal: ask again a little later (under the subscribe rate).
    const refusals: string[] = [];
    const again = await pollUntil(
      "the late subscribe accepted",
      async () => {
        const ack = await subscribeOnce(late, ch1);
        if (ack.ok) return ack;
        refusals.push(ack.error.code);
        return undefined;
      },
      30_000,
      500,
    );
    expect(refusals.filter((code) => code !== "bus_unavailable")).toEqual([]);
    const resumedAt = p1.acked.length;
    await Promise.all([p0.ackedAtLeast(p0.acked.length + 10), p1.ackedAtLeast(resumedAt + 10)]);
    await Promise.all([p0.stop(), p1.stop()]);

    await s0.waitForIds(p0.acked.map((m) => m.id));
    await s1.waitForIds(p1.acked.map((m) => m.id));
    expectExactly(s0.of(ch0), p0.acked);
    expectExactly(s1.of(ch1), p1.acked);
    const after = p1.acked.filter((m) => m.offset > again.offset);
    await late.waitForIds(after.map((m) => m.id));
    expectExactly(late.of(ch1), after);
    for (const s of [s0, s1, late]) expect(s.anomalies).toEqual([]);
    expect((await get<{ tail: { gaps: number } }>("/stats")).body.tail.gaps).toBe(0);
  }, 180_000);
});
