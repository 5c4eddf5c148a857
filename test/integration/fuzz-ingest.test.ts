/**
 * Property-based fuzzing of the ingest API (README "HTTP") against a real functions process with auth on:
 * thousands of generated requests (methods, paths, headers, bodies, queries) through a pool of
 * concurrent connections. Whatever is sent: never a 5xx, every error exactly `{ error: { code,
 * message } }` as JSON, no stack trace, no credential echoed, the process alive afterwards. Every 201
 * is then checked in the bus itself and, for watched channels, at a real Socket.IO subscriber.
 *
 * Reproduce a run with FUZZ_SEED=<seed> (printed); FUZZ_REQUESTS changes the request count;
 * FUZZ_LOG=<file> writes one JSON line per request (status, latency, problems).
 */
import { writeFileSync } from "node:fs";
import fc from "fast-check";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import type { MessageDoc } from "../../shared/bus/doc.ts";
import type { Envelope } from "../../shared/message.ts";
import { authEnv, testKey, token, unsignedToken } from "../helpers/auth.ts";
import { FUZZ_LIMITS, FUZZ_SCOPE, fuzzLimitsEnv, WATCHED_CHANNELS } from "../helpers/fuzz-ingest-channels.ts";
import {
  type CheckContext,
  type Checked,
  type Credentials,
  checkResponse,
  describeRequest,
  type ExpectedMessage,
  jsonEqual,
  type Receipt,
  toRaw,
} from "../helpers/fuzz-ingest-checks.ts";
import { type FuzzRequest, fuzzRequest, watchedPublish } from "../helpers/fuzz-ingest-requests.ts";
import { hasHostileKey } from "../helpers/fuzz-json.ts";
import { type RawSender, rawSender, runPool } from "../helpers/fuzz-pool.ts";
import { startFunctions, startTailer, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_417);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const CONCURRENCY = 16;

const db = testDbName(import.meta.url);
const fuzzKey = testKey("fuzz", FUZZ_SCOPE);
const otherKey = testKey("fuzz-other", ["other:*"]);
// Effectively no refill: the bucket's state depends on request count alone, never on timing.
const rateKey = testKey("fuzz-rate", ["fz:*"], { perSecond: 0.001, burst: 5 });
const env = {
  ...authEnv([fuzzKey, otherKey, rateKey]),
  ...fuzzLimitsEnv(),
  TAILCAST_PUBLISH_RATE: "1000000",
  // Nothing acknowledged may be evicted before it is checked (FerretDB trims every second).
  TAILCAST_BUS_SIZE_BYTES: String(512 * 1024 * 1024),
  TAILCAST_BUS_MAX_DOCS: "1000000",
};

let ingest: Component;
let tailer: Component;
let sender: RawSender;
let creds: Credentials;
let ctx: CheckContext;
let epoch = "";
let setupOffset = 0;
let ingestExited = false;
let tailerExited = false;
let watcher: Socket;
const received: Array<{ event: string; envelope: Envelope }> = [];
/** Every message a 201 acknowledged during the run, by offset. */
const acked = new Map<number, { expected: ExpectedMessage; receipt: Receipt; from: string }>();
const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();

function record(checked: Checked, from: string): void {
  for (const a of checked.acknowledged) acked.set(a.receipt.offset, { ...a, from });
}

async function sendAndCheck(
  req: FuzzRequest,
  from: string,
): Promise<Checked & { status: number; ms: number }> {
  const res = await sender.send(toRaw(req, creds, epoch), `${from} ${req.method} ${req.path.slice(0, 60)}`);
  const checked = checkResponse(req, res, ctx);
  record(checked, from);
  return { ...checked, status: res.ok ? res.status : 0, ms: res.ms };
}

/** JSON for a report, with the numbers JSON cannot write (Infinity) shown instead of as `null`. */
const nonFinite = (_k: string, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? `<${x}>` : x);
const show = (v: unknown) => String(JSON.stringify(v, nonFinite)).slice(0, 80);

/** Polls `cond` until it holds or `timeoutMs` passed; the caller's assertions say what is missing. */
async function settle(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

beforeAll(async () => {
  ingest = await startFunctions({ db, env });
  void ingest.exited.then(() => {
    ingestExited = true;
  });
  const now = Math.floor(Date.now() / 1000);
  creds = {
    key: fuzzKey.key,
    wrongScopeKey: otherKey.key,
    jwtAll: await token({ channels: ["*"] }),
    jwtScoped: await token({ channels: ["fz:*"] }),
    jwtForged: await token({ channels: ["*"] }, { secret: "not-the-secret-but-long-enough-0123456789" }),
    jwtExpired: await token({ channels: ["*"], exp: now - 3600 }),
    unsignedJwt: unsignedToken({ sub: "mallory", exp: now + 600, channels: ["*"] }),
  };
  ctx = {
    secrets: [fuzzKey.key, otherKey.key, rateKey.key, creds.jwtAll, creds.jwtScoped],
    keyScope: FUZZ_SCOPE,
    otherKeyScope: ["other:*"],
    jwtScopedScope: ["fz:*"],
  };
  sender = rawSender(ingest.url, { maxSockets: CONCURRENCY, timeoutMs: 20_000 });

  // One known-good publish: it names the bus epoch for `{epoch}` in generated history queries.
  const setup: FuzzRequest = {
    intent: "setup",
    method: "POST",
    path: "/v1/channels/fz:sio/messages",
    contentType: "application/json",
    auth: "valid",
    idempotencyKey: null,
    body: new TextEncoder().encode(JSON.stringify({ event: "chat", data: { setup: true } })),
    chunked: false,
  };
  const first = await sendAndCheck(setup, "setup");
  expect(first.problems).toEqual([]);
  epoch = first.acknowledged[0]?.receipt.epoch ?? "";
  setupOffset = first.acknowledged[0]?.receipt.offset ?? 0;
  expect(epoch).not.toBe("");
});

afterAll(async () => {
  watcher?.close();
  sender?.close();
  await stopAll([ingest, tailer]);
});

describe(`ingest fuzzing (seed ${SEED})`, () => {
  it(`${REQUESTS} generated requests: only 2xx/4xx, exact error shape, no stack trace, no credential`, async () => {
    const requests = fc.sample(fuzzRequest, { seed: SEED, numRuns: REQUESTS });
    const started = performance.now();
    const results = await runPool(requests, CONCURRENCY, (req, i) => sendAndCheck(req, `#${i}`));
    const elapsedMs = Math.round(performance.now() - started);
    if (process.env.FUZZ_LOG) {
      const lines = results.map((r, i) =>
        JSON.stringify({ i, status: r.status, ms: r.ms, problems: r.problems }),
      );
      writeFileSync(process.env.FUZZ_LOG, `${lines.join("\n")}\n`);
    }

    const statuses = new Map<number, number>();
    const intents = new Map<string, number>();
    for (const [i, r] of results.entries()) {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const intent = (requests[i] as FuzzRequest).intent;
      intents.set(intent, (intents.get(intent) ?? 0) + 1);
    }
    const hostile = [...acked.values()].filter((a) => hasHostileKey(a.expected.data)).length;
    console.log(
      [
        `fuzz-ingest: seed ${SEED} (FUZZ_SEED=${SEED} to reproduce)`,
        `  ${requests.length} requests in ${elapsedMs} ms (${Math.round((requests.length * 1000) / elapsedMs)}/s, ${CONCURRENCY} in flight)`,
        `  intents: ${JSON.stringify(Object.fromEntries(intents))}`,
        `  statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
        `  messages acknowledged: ${acked.size} (${hostile} with __proto__/constructor/prototype/$ keys)`,
      ].join("\n"),
    );

    // Group failures by what went wrong; show the first request of each group, then let fast-check
    // shrink it (same seed, path = its index) to a smaller request that fails the same way.
    const groups = new Map<string, number[]>();
    for (const [i, r] of results.entries()) {
      if (r.problems.length === 0) continue;
      const kind = r.problems
        .map((p) => p.replace(/ \(connection reused after .*$/, " (on a reused connection)"))
        .map((p) => p.replace(/"(?:[^"\\]|\\.)*"|\d+/g, "…").slice(0, 100))
        .join("; ");
      groups.set(kind, [...(groups.get(kind) ?? []), i]);
    }
    const report: string[] = [];
    for (const [kind, indices] of groups) {
      const i = indices[0] as number;
      const req = requests[i] as FuzzRequest;
      const shrunk = report.length < 3 ? await shrink(i) : "";
      report.push(
        `${indices.length}× ${kind}\n  first: request #${i}: ${results[i]?.problems.join("; ")}\n  ${describeRequest(req)}${shrunk}`,
      );
    }
    if (report.length > 0) console.log(`fuzz-ingest failures:\n${report.join("\n")}`);
    expect(report).toEqual([]);
  }, 120_000);

  it("the functions process is alive and healthy afterwards", async () => {
    await new Promise((r) => setTimeout(r, 100));
    expect(ingestExited).toBe(false);
    const res = await fetch(`${ingest.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const unhandled = ingest.output().filter((l) => /unhandled error/.test(l));
    expect(unhandled).toEqual([]);
  });

  it("the bus holds exactly the acknowledged messages, each exactly as sent", async () => {
    const docs = await withDb(inject("mongodbUri"), (c) =>
      c
        .db(db)
        .collection<MessageDoc>("bus")
        .find({ channel: { $exists: true } })
        .toArray(),
    );
    const problems: string[] = [];
    const byOffset = new Map(docs.map((d) => [d.offset, d]));
    for (const doc of docs) {
      if (!acked.has(doc.offset))
        problems.push(`offset ${doc.offset} is in the bus but was never acknowledged`);
    }
    for (const [offset, { expected, receipt, from }] of acked) {
      const doc = byOffset.get(offset);
      const where = `${from} offset ${offset}`;
      if (doc === undefined) {
        problems.push(`${where}: acknowledged but not in the bus`);
        continue;
      }
      if (doc._id !== receipt.id || doc.epoch !== receipt.epoch) problems.push(`${where}: id/epoch differ`);
      if (doc.channel !== expected.channel) problems.push(`${where}: channel ${doc.channel}`);
      if (doc.event !== expected.event) problems.push(`${where}: event ${doc.event}, sent ${expected.event}`);
      if (!jsonEqual(JSON.parse(doc.data), expected.data)) {
        problems.push(`${where}: stored data ${doc.data.slice(0, 80)}, sent ${show(expected.data)}`);
      }
    }
    expect(problems).toEqual([]);
    expect(acked.size).toBeGreaterThan(REQUESTS / 20);
  });

  it("watched channels reach a Socket.IO subscriber exactly, in order, hostile keys intact", async () => {
    // Started only now: an idle tailer makes FerretDB re-scan the bus every 10 ms (docs/ferretdb.md), which
    // would halve the request rate above. What the fuzz published comes through recovery (`since`),
    // read back from the bus; a fresh sample then comes through the live fan-out.
    const phase = performance.now();
    tailer = await startTailer({ db, env, nodeId: "fuzz" });
    void tailer.exited.then(() => {
      tailerExited = true;
    });
    watcher = io(tailer.url, {
      auth: { token: creds.jwtAll },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
    });
    watcher.onAny((event: string, envelope: Envelope) => received.push({ event, envelope }));
    await new Promise<void>((resolve, reject) => {
      watcher.once("connect", () => resolve());
      watcher.once("connect_error", reject);
    });
    const since = { offset: setupOffset - 1, epoch };
    for (const channel of WATCHED_CHANNELS) {
      const ack = await watcher.timeout(30_000).emitWithAck("subscribe", { channel, since });
      expect(ack).toMatchObject({ ok: true, channel, recovered: true });
    }
    const replayed = received.length;
    const replayMs = Math.round(performance.now() - phase);
    const live = fc.sample(watchedPublish, { seed: SEED + 1, numRuns: 50 });
    const liveStart = performance.now();
    await runPool(live, 4, async (req, i) => {
      const r = await sendAndCheck(req, `live #${i}`);
      expect(r.problems).toEqual([]);
      expect(r.status).toBe(201);
    });
    const liveMs = Math.round(performance.now() - liveStart);
    const watched = [...acked.values()]
      .filter((a) => WATCHED_CHANNELS.includes(a.expected.channel))
      .sort((a, b) => a.receipt.offset - b.receipt.offset);
    const ids = new Set(watched.map((a) => a.receipt.id));
    await settle(() => received.filter((r) => ids.has(r.envelope.id)).length >= ids.size, 15_000);
    const problems: string[] = [];
    for (const channel of WATCHED_CHANNELS) {
      const want = watched.filter((a) => a.expected.channel === channel);
      const got = received.filter((r) => r.envelope.channel === channel);
      if (got.map((r) => r.envelope.id).join() !== want.map((a) => a.receipt.id).join()) {
        const gotIds = new Set(got.map((r) => r.envelope.id));
        const missing = want
          .filter((a) => !gotIds.has(a.receipt.id))
          .map((a) => `${a.from}@${a.receipt.offset}`);
        problems.push(
          `${channel}: received ${got.length}, acknowledged ${want.length}, missing ${missing.slice(0, 10).join(" ")}`,
        );
        continue;
      }
      want.forEach((a, i) => {
        const { event, envelope } = got[i] as { event: string; envelope: Envelope };
        if (event !== a.expected.event || envelope.event !== a.expected.event)
          problems.push(`${a.from}: event`);
        if (envelope.offset !== a.receipt.offset || envelope.epoch !== a.receipt.epoch) {
          problems.push(`${a.from}: offset/epoch`);
        }
        if (!jsonEqual(envelope.data, a.expected.data)) {
          problems.push(`${a.from}: received data ${show(envelope.data)}, sent ${show(a.expected.data)}`);
        }
      });
    }
    const hostile = watched.filter((a) => hasHostileKey(a.expected.data)).length;
    console.log(
      `fuzz-ingest: ${watched.length} watched messages acknowledged (${replayed} replayed from the bus, ` +
        `${received.length - replayed} received live), ${hostile} with __proto__/constructor/prototype/$ keys; ` +
        `tailer start + replay ${replayMs} ms, ${live.length} live publishes ${liveMs} ms`,
    );
    // The bus is far too big to evict anything here, so any gap the tailer reports is a false one:
    // messages still in the bus skipped by its cursor.
    const stats = (await (await fetch(`${tailer.url}/stats`)).json()) as {
      tail: { gaps: number; missed: number };
    };
    if (problems.length > 0 || stats.tail.gaps > 0) {
      console.log(
        `fuzz-ingest: tailer ${JSON.stringify(stats.tail)}\n${tailer.output().slice(-10).join("\n")}`,
      );
    }
    expect({ problems, falseGaps: stats.tail.gaps }).toEqual({ problems: [], falseGaps: 0 });
    expect(hostile).toBeGreaterThanOrEqual(20);
    expect(tailerExited).toBe(false);
  }, 90_000);

  it("did not pollute Object.prototype in the test process", () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    const probe: Record<string, unknown> = {};
    for (const k of ["polluted", "x", "data", "event", "channel"]) expect(probe[k]).toBeUndefined();
  });
});

describe("rate limit under fuzzing", () => {
  it("a key past its burst gets 429 + Retry-After and the error shape for anything it sends", async () => {
    const authorization = `Bearer ${rateKey.key}`;
    const publish = () =>
      sender.send({
        method: "POST",
        path: "/v1/channels/fz:rate/messages",
        headers: { "content-type": "application/json", authorization },
        body: new TextEncoder().encode('{"data":1}'),
        chunked: false,
      });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await publish().then((r) => (r.ok ? r.status : r.error)));
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    // Any request through /v1/* with that key now: 429, whatever its route, body or headers.
    const throughAuth = fuzzRequest.filter((r) => {
      const p = r.path.replaceAll("{epoch}", "e");
      return (
        URL.canParse(p, "http://x") && new URL(p, "http://x").pathname.startsWith("/v1/") && !p.includes("\\")
      );
    });
    let count = 0;
    await fc.assert(
      fc.asyncProperty(throughAuth, async (req) => {
        count++;
        const res = await sender.send(toRaw(req, creds, epoch, authorization));
        const checked = checkResponse(req, res, ctx);
        expect(checked.problems).toEqual([]);
        expect(res.ok && res.status).toBe(429);
        if (res.ok && req.method !== "HEAD") {
          expect((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code).toBe(
            "rate_limited",
          );
        }
        expect(Number(res.ok && res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      }),
      { seed: SEED, numRuns: 300 },
    );
    console.log(`fuzz-ingest: rate limit held for ${count} generated requests`);
    // Other keys are untouched by that bucket.
    const other = await sendAndCheck(
      {
        intent: "rate",
        method: "POST",
        path: "/v1/channels/fz:after-rate/messages",
        contentType: "application/json",
        auth: "valid",
        idempotencyKey: null,
        body: new TextEncoder().encode('{"data":"still fine"}'),
        chunked: false,
      },
      "after rate",
    );
    expect(other.status).toBe(201);
  });
});

/** Lets fast-check replay request `index` of the run (same seed) and shrink it; a line for the report. */
async function shrink(index: number): Promise<string> {
  const out = await fc.check(
    fc.asyncProperty(fuzzRequest, async (req) => (await sendAndCheck(req, "shrink")).problems.length === 0),
    { seed: SEED, path: String(index), interruptAfterTimeLimit: 10_000 },
  );
  const [smallest] = out.counterexample ?? [];
  if (!out.failed || smallest === undefined) return "\n  (passes when replayed alone)";
  return `\n  shrunk (path ${out.counterexamplePath}): ${describeRequest(smallest)}`;
}

/**
 * Each of these was found by the fuzzing above and asserts the behaviour the contract asks for
 * (README "HTTP"): it fails until the product is fixed.
 */
describe("contract gaps found by fuzzing", () => {
  const publishText = (text: string) =>
    sender.send({
      method: "POST",
      path: "/v1/channels/fz:numbers/messages",
      headers: { "content-type": "application/json", authorization: `Bearer ${fuzzKey.key}` },
      body: new TextEncoder().encode(text),
      chunked: false,
    });

  it("a number JSON.parse cannot hold (1e400) is refused, never stored as null", async () => {
    for (const text of ['{"data":1e400}', '{"data":[-1e400]}', '{"data":{"n":1e999}}']) {
      const res = await publishText(text);
      expect(res.ok).toBe(true);
      if (!res.ok) continue;
      if (res.status === 201) {
        const receipt = JSON.parse(res.body.toString()) as Receipt;
        const doc = await withDb(inject("mongodbUri"), (c) =>
          c.db(db).collection<MessageDoc>("bus").findOne({ offset: receipt.offset }),
        );
        // Accepted, the value must survive: what was sent holds no null, yet it became `null`.
        expect(doc?.data, `${text} was stored as ${doc?.data}`).not.toMatch(/null/);
      } else {
        expect(res.status).toBe(400);
        const { code } = (JSON.parse(res.body.toString()) as { error: { code: string } }).error;
        expect(["invalid_data", "invalid_json"]).toContain(code);
      }
    }
  });

  it("a body far over the limit (413) does not cost the next request on the same keep-alive connection", async () => {
    const one = rawSender(ingest.url, { maxSockets: 1, timeoutMs: 10_000 });
    try {
      const huge = await one.send({
        method: "POST",
        path: "/v1/channels/fz:big/messages",
        headers: { "content-type": "application/json", authorization: `Bearer ${fuzzKey.key}` },
        body: new TextEncoder().encode(`{"data":"${"x".repeat(FUZZ_LIMITS.maxBodyBytes * 8)}"}`),
        chunked: false,
      });
      expect(huge.ok && huge.status).toBe(413);
      const next = await one.send({
        method: "GET",
        path: "/v1/channels/fz:big/messages?limit=1",
        headers: { authorization: `Bearer ${fuzzKey.key}` },
        body: null,
        chunked: false,
      });
      // Either the 413 says `Connection: close` (and the client opens a new connection) or the
      // connection stays usable; answering keep-alive and then hanging up loses this request.
      expect(next.ok ? next.status : next.error).toBe(200);
    } finally {
      one.close();
    }
  });

  it("a request the HTTP adapter refuses (backslash in the path, bad Host) still gets the error shape", async () => {
    const requests: Array<{ path: string; headers: Record<string, string> }> = [
      { path: "/v1\\messages", headers: {} },
      { path: "/v1/channels/fz:a\\b/messages", headers: {} },
      { path: "/healthz", headers: { host: "[::1" } },
    ];
    for (const { path, headers } of requests) {
      const res = await sender.send({ method: "GET", path, headers, body: null, chunked: false });
      expect(res.ok && res.status >= 400 && res.status < 500).toBe(true);
      if (!res.ok) continue;
      expect(String(res.headers["content-type"]), `GET ${path} ${JSON.stringify(headers)}`).toMatch(
        /^application\/json/,
      );
      const body = JSON.parse(res.body.toString() || "null") as { error?: { code?: unknown } } | null;
      expect(typeof body?.error?.code).toBe("string");
    }
  });
});
