/**
 * Malformed Socket.IO traffic never crashes a tailer nor disturbs the other clients on it. A good
 * subscriber receives a steady stream of published messages the whole time, while hostile clients —
 * socket.io-client misused, and raw Engine.IO/Socket.IO frames over plain `ws` — send every wrong
 * thing generated here. Afterwards the node is alive, and the good subscriber has every message
 * published meanwhile, exactly once and in order. Reproduce with FUZZ_SEED=<seed> (printed).
 */
import fc from "fast-check";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { runPool } from "../helpers/fuzz-pool.ts";
import { ackProblem, garbageFrame, hostilePayload, type RawIo, rawIo } from "../helpers/fuzz-socketio.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { publish, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_417);
const db = testDbName(import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ingest: Component;
let node: Component;
let good: Subscriber;
let nodeExited = false;
const hostiles: Socket[] = [];
const receipts: Array<{ id: string; offset: number }> = [];
const publishFailures: string[] = [];
const stopPublishing = new AbortController();
let publisher: Promise<void> = Promise.resolve();

beforeAll(async () => {
  console.log(`hostile-socketio: seed ${SEED} (FUZZ_SEED=${SEED} to reproduce)`);
  ingest = await startFunctions({ db });
  node = await startTailer({ db, nodeId: "target" });
  void node.exited.then(() => {
    nodeExited = true;
  });
  good = await connectSubscriber(node.url);
  expect(await good.subscribe("steady")).toMatchObject({ ok: true, channel: "steady" });
  // The steady stream runs through every attack below and is checked at the end.
  publisher = (async () => {
    for (let i = 0; !stopPublishing.signal.aborted; i++) {
      const res = await publish(ingest, "steady", { i });
      if (res.status === 201) receipts.push(res.body as { id: string; offset: number });
      else publishFailures.push(`${res.status} ${JSON.stringify(res.body)}`);
      await sleep(20);
    }
  })();
});

afterAll(async () => {
  stopPublishing.abort();
  await publisher.catch(() => {});
  for (const s of hostiles) s.close();
  good?.close();
  await stopAll([ingest, node]);
});

async function hostile(): Promise<Socket> {
  const s = io(node.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  hostiles.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("connect_error", reject);
  });
  return s;
}

async function expectAlive(): Promise<void> {
  expect(nodeExited).toBe(false);
  const res = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
}

type Event = "subscribe" | "unsubscribe" | "refresh";
const EVENTS: Event[] = ["subscribe", "unsubscribe", "refresh"];

describe(`a tailer under hostile Socket.IO traffic (seed ${SEED})`, () => {
  it("answers wrongly typed subscribe / unsubscribe / refresh with exactly shaped acks", async () => {
    const s = await hostile();
    const payloads = fc.sample(hostilePayload, { seed: SEED, numRuns: 1500 });
    const problems: string[] = [];
    const codes = new Map<string, number>();
    await runPool(payloads, 8, async (payload, i) => {
      const event = EVENTS[i % EVENTS.length] as Event;
      const ack = (await s.timeout(10_000).emitWithAck(event, payload)) as unknown;
      const problem = ackProblem(event, ack);
      if (problem) problems.push(`#${i} ${problem} (sent ${JSON.stringify(payload)?.slice(0, 200)})`);
      const a = ack as { ok?: boolean; error?: { code?: string } };
      const key = `${event}:${a.ok ? "ok" : a.error?.code}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    });
    console.log(
      `hostile-socketio: ${payloads.length} typed requests, acks ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    expect(problems).toEqual([]);
    expect(s.connected).toBe(true);
    await expectAlive();
  });

  it("shrugs off missing acks, acks that are not functions, extra arguments and unknown events", async () => {
    const s = await hostile();
    s.emit("subscribe", { channel: "no-ack" });
    s.emit("subscribe");
    s.emit("unsubscribe", null);
    s.emit("refresh");
    s.emit("subscribe", { channel: "ack-is-a-string" }, "not-a-function");
    s.emit("subscribe", { channel: "ack-is-a-number" }, 42, { not: "a function" });
    s.emit("unsubscribe", { channel: "x" }, null, [], () => {});
    s.emit("refresh", { token: "x" }, "string-ack", 1);
    const unknown = [
      "foo",
      "constructor",
      "__proto__",
      "toString",
      "hasOwnProperty",
      "error",
      "message",
      "subscribed",
    ];
    for (const event of [
      ...unknown,
      ...fc.sample(fc.string({ unit: "binary", maxLength: 20 }), { seed: SEED, numRuns: 50 }),
    ]) {
      s.emit(event, { channel: "x" });
      s.emit(event, { channel: "x" }, () => {}); // an ack nobody will call
    }
    // The same connection still works.
    const ack = (await s.timeout(10_000).emitWithAck("subscribe", { channel: "after-noise" })) as unknown;
    expect(ackProblem("subscribe", ack)).toBeNull();
    expect(ack).toMatchObject({ ok: true, channel: "after-noise" });
    await expectAlive();
  });

  it("bounds thousands of rapid subscribe requests and answers each one", async () => {
    const s = await hostile();
    const n = 2000;
    const acks = (await Promise.all(
      Array.from({ length: n }, (_, i) =>
        s.timeout(30_000).emitWithAck("subscribe", { channel: `flood-${i}` }),
      ),
    )) as unknown[];
    const problems = acks.map((a) => ackProblem("subscribe", a)).filter((p) => p !== null);
    expect(problems).toEqual([]);
    const ok = acks.filter((a) => (a as { ok: boolean }).ok).length;
    // The node's default: at most 100 subscriptions per connection; the rest refused, not queued.
    expect(ok).toBe(100);
    const refused = new Set(
      acks
        .filter((a) => !(a as { ok: boolean }).ok)
        .map((a) => (a as { error: { code: string } }).error.code),
    );
    expect([...refused]).toEqual(["invalid_request"]);
    const unsubAcks = (await Promise.all(
      Array.from({ length: n }, (_, i) =>
        s.timeout(30_000).emitWithAck("unsubscribe", { channel: `flood-${i}` }),
      ),
    )) as unknown[];
    expect(unsubAcks.map((a) => ackProblem("unsubscribe", a)).filter((p) => p !== null)).toEqual([]);
    // And as many again without waiting for any answer, then gone.
    for (let i = 0; i < n; i++) s.emit("subscribe", { channel: `flood-${i}` });
    s.disconnect();
    await expectAlive();
  });

  it("answers requests carrying binary attachments with exactly shaped acks", async () => {
    const s = await hostile();
    const bin = Buffer.from("subscribe");
    const sends: Array<[Event, unknown]> = [
      ["subscribe", bin],
      ["subscribe", { channel: bin }],
      ["subscribe", { channel: "bin-ok", since: { offset: bin, epoch: bin } }],
      ["subscribe", [bin, bin]],
      ["unsubscribe", new Uint8Array(16)],
      ["unsubscribe", { channel: new Uint8Array([0x61]) }],
      ["refresh", { token: Buffer.alloc(1000, 1) }],
      ["subscribe", { channel: "x", nested: { deep: [bin, { more: bin }] } }],
    ];
    for (const [event, payload] of sends) {
      const ack = (await s.timeout(10_000).emitWithAck(event, payload)) as unknown;
      expect(ackProblem(event, ack), `${event} ${String(payload)}`).toBeNull();
    }
    expect(s.connected).toBe(true);
    await expectAlive();
  });

  it("disconnects only the sender of a payload over 64 KiB (1 MB)", async () => {
    for (const payload of [{ channel: "x".repeat(1 << 20) }, Buffer.alloc(1 << 20, 7)]) {
      const s = await hostile();
      const gone = new Promise<string>((resolve) => s.once("disconnect", (reason) => resolve(reason)));
      s.emit("subscribe", payload, () => {});
      const reason = await Promise.race([gone, sleep(10_000).then(() => "still connected")]);
      expect(reason).not.toBe("still connected");
    }
    expect(good.socket.connected).toBe(true);
    await expectAlive();
  });

  it("survives raw garbage frames over plain ws, and answers what it does answer correctly", async () => {
    const fixed: Array<string | Uint8Array> = [
      '42["subscribe"',
      "4",
      "42",
      "4[",
      '42["disconnect"]',
      '42["connect"]',
      '42["newListener","x"]',
      '42["error",{"x":1}]',
      '42["__proto__",{}]',
      '421["subscribe",1]',
      '421["unsubscribe",null]',
      '421["refresh","x"]',
      '42999999999999999999999["subscribe",{"channel":"a"}]',
      '42/nope,["subscribe",{"channel":"a"}]',
      '451-["subscribe",{"_placeholder":true,"num":0}]',
      '451-["subscribe",{"_placeholder":true,"num":5}]',
      "40",
      "41",
      "1",
      "6",
      "",
      "x".repeat(60_000),
      new Uint8Array([0xff, 0xfe, 0x00, 0x01]),
    ];
    const frames = [...fixed, ...fc.sample(garbageFrame, { seed: SEED, numRuns: 500 })];
    const outcomes = new Map<string, number>();
    const problems: string[] = [];
    await runPool(frames, 8, async (frame, i) => {
      let raw: RawIo;
      try {
        raw = await rawIo(node.url);
      } catch (err) {
        problems.push(`#${i}: could not open a raw connection: ${(err as Error).message}`);
        return;
      }
      try {
        raw.ws.send(frame, { binary: typeof frame !== "string" });
        // A probe after the garbage: either the connection was closed, or it still answers properly.
        raw.ws.send('429["subscribe",{"channel":"raw-probe"}]');
        const reply = await raw.next("439", 3000);
        let outcome = reply !== null ? "answered" : raw.isClosed() ? "closed" : "silent";
        if (outcome === "silent") {
          // A valid namespace disconnect (`41`) leaves an event that arrives before the server has removed
          // the socket unanswered by design (one that arrives after closes the connection): join again
          // and probe. A connection that answers neither, nor closes, is hung: a failure.
          raw.ws.send("40");
          raw.ws.send('429["subscribe",{"channel":"raw-probe"}]');
          const again = await raw.next("439", 30_000);
          outcome = again !== null ? "left namespace" : raw.isClosed() ? "closed" : "silent";
          if (outcome === "silent")
            problems.push(`#${i} after ${JSON.stringify(String(frame).slice(0, 80))}: hung`);
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        for (const f of raw.frames.filter((f) => /^43\d/.test(f))) {
          // The ack id is echoed as the server printed it (even `1e+22`); the JSON starts at `[`.
          const [ack] = JSON.parse(f.slice(f.indexOf("["))) as unknown[];
          // Ack 9 answers the probe; any other answers a request inside the garbage, of whichever event.
          const events: Event[] = f.startsWith("439[") ? ["subscribe"] : EVENTS;
          const byEvent = events.map((e) => ackProblem(e, ack));
          const problem = byEvent.includes(null) ? null : (byEvent[0] as string);
          if (problem) problems.push(`#${i} after ${JSON.stringify(String(frame).slice(0, 80))}: ${problem}`);
        }
      } finally {
        raw.close();
      }
    });
    // Text that is not UTF-8, and a frame over the node's 64 KiB limit: closed, nothing else.
    for (const [bytes, binary] of [
      [Buffer.from([0x34, 0x32, 0xff, 0xfe]), false],
      [Buffer.alloc(1 << 20, 0x61), false],
    ] as const) {
      const raw = await rawIo(node.url);
      raw.ws.send(bytes, { binary });
      const closed = await Promise.race([raw.closed, sleep(10_000).then(() => null)]);
      expect(closed, `${bytes.length} bytes`).not.toBeNull();
      raw.close();
    }
    console.log(
      `hostile-socketio: ${frames.length} raw garbage frames, ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    expect(problems).toEqual([]);
    expect(outcomes.get("silent")).toBeUndefined();
    await expectAlive();
  });

  it("answers a subscribe whose `since` is ahead of the whole bus instead of leaving it pending", async () => {
    // A genuine position comes from a message in the bus, so one past the bus's newest offset is
    // bogus; today the node waits for its tail to reach it, forever, and the ack never comes.
    const s = await hostile();
    const here = (await s.timeout(10_000).emitWithAck("subscribe", { channel: "ahead-probe" })) as {
      offset: number;
      epoch: string;
    };
    const since = { offset: here.offset + 1_000_000_000, epoch: here.epoch };
    const ack = (await s
      .timeout(10_000)
      .emitWithAck("subscribe", { channel: "ahead", since })
      .catch(() => "no ack within 10 s")) as unknown;
    expect(ack).not.toBe("no ack within 10 s");
    expect(ackProblem("subscribe", ack)).toBeNull();
    s.disconnect();
    await expectAlive();
  });

  it("kept the node alive and the good subscriber got every message exactly once, in order", async () => {
    stopPublishing.abort();
    await publisher;
    expect(publishFailures).toEqual([]);
    expect(receipts.length).toBeGreaterThan(50);
    await good.waitFor(receipts.length, { timeoutMs: 30_000 }).catch(() => {});
    const got = good.received.map((m) => m.id);
    const want = receipts.map((r) => r.id);
    const missing = want.filter((id) => !got.includes(id)).length;
    const duplicates = got.length - new Set(got).size;
    console.log(
      `hostile-socketio: ${want.length} steady messages published during the attacks, ${got.length} received`,
    );
    expect({ missing, duplicates, inOrder: got.join() === want.join() }).toEqual({
      missing: 0,
      duplicates: 0,
      inOrder: true,
    });
    expect(good.socket.connected).toBe(true);
    await expectAlive();
    // Every hostile connection, once closed, is released: only the good subscriber is left.
    for (const s of hostiles) s.close();
    let clients = -1;
    for (let i = 0; i < 50 && clients !== 1; i++) {
      clients = ((await (await fetch(`${node.url}/stats`)).json()) as { clients: number }).clients;
      if (clients !== 1) await sleep(100);
    }
    expect(clients).toBe(1);
  });
});
