/**
 * Credentials never reach the logs (README "Logs", "Security"), seen from outside: a real ingest and a
 * real tailer at TAILCAST_LOG_LEVEL=debug with authentication on. A publisher uses its API key, a
 * subscriber its token (Socket.IO `auth`, `/ws?token=`, `/ws` with an Authorization header, history
 * with a bearer token), and forged ones of each are refused. Afterwards every line either process wrote
 * is read: the lines about each request and connection are there, and no line holds a key or a token,
 * nor the signature part of one.
 */
import { once } from "node:events";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Component } from "../../infra/local/component.ts";
import { generateApiKey } from "../../shared/auth/api-keys.ts";
import type { Envelope } from "../../shared/message.ts";
import { authEnv, testKey, token } from "../helpers/auth.ts";
import { pollUntil } from "../helpers/guarantees.ts";
import { LineLog } from "../helpers/log-lines.ts";
import { post, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const CHANNEL = "secret-room";
const publisher = testKey("pub-logs", ["*"]);
const forgedKey = generateApiKey();
let subscriberToken: string;
let forgedToken: string;
let ingest: Component;
let tailer: Component;
const ingestLog = new LineLog();
const tailerLog = new LineLog();
const sockets: Socket[] = [];
const wsClients: WebSocket[] = [];

beforeAll(async () => {
  subscriberToken = await token({ sub: "alice", channels: [CHANNEL] });
  // Well formed and with the same claims, signed with another secret.
  forgedToken = await token(
    { sub: "alice", channels: [CHANNEL] },
    { secret: "not-the-secret-of-this-deployment-0123" },
  );
  const env = { ...authEnv([publisher]), TAILCAST_LOG_LEVEL: "debug" };
  [ingest, tailer] = await Promise.all([
    startFunctions({ db, env, onLine: ingestLog.onLine }),
    startTailer({ db, env, nodeId: "logs-1", onLine: tailerLog.onLine }),
  ]);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  for (const ws of wsClients) ws.terminate();
  await stopAll([ingest, tailer]);
});

function sioConnect(auth: Record<string, unknown>): Socket {
  const s = io(tailer.url, { transports: ["websocket"], reconnection: false, forceNew: true, auth });
  sockets.push(s);
  return s;
}

/** Resolves with "connected" or the connect_error code. */
const sioOutcome = (s: Socket) =>
  new Promise<string>((resolve) => {
    s.once("connect", () => resolve("connected"));
    s.once("connect_error", (err: Error & { data?: { code?: string } }) =>
      resolve(err.data?.code ?? err.message),
    );
  });

interface WsPeer {
  ws: WebSocket;
  frames: Array<Record<string, unknown>>;
  closed: Promise<number>;
}

async function wsOpen(query: string, headers: Record<string, string> = {}): Promise<WsPeer> {
  const ws = new WebSocket(`ws://127.0.0.1:${tailer.port}/ws${query}`, { headers });
  wsClients.push(ws);
  const frames: Array<Record<string, unknown>> = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  await once(ws, "open");
  return { ws, frames, closed };
}

async function wsSubscribe(peer: WsPeer): Promise<void> {
  peer.ws.send(JSON.stringify({ type: "subscribe", id: 1, channel: CHANNEL }));
  await pollUntil("the /ws subscribe answer", async () => peer.frames.find((f) => f.id === 1));
  expect(peer.frames.find((f) => f.id === 1)).toMatchObject({ type: "subscribed" });
}

const publishWith = (authorization: string) =>
  post(`${ingest.url}/v1/channels/${CHANNEL}/messages`, { data: { hello: "world" } }, { authorization });

const history = (authorization: string) =>
  fetch(`${ingest.url}/v1/channels/${CHANNEL}/messages?limit=10`, { headers: { authorization } });

describe("no credential in any log line (debug level, authentication on)", () => {
  it("logs requests and connections, and neither the key, the token nor a forged one", async () => {
    // Subscribers: Socket.IO with its token in `auth`, /ws with `?token=` and with a header.
    const sio = sioConnect({ token: subscriberToken });
    expect(await sioOutcome(sio)).toBe("connected");
    const sioAck = await sio.timeout(10_000).emitWithAck("subscribe", { channel: CHANNEL });
    expect(sioAck).toMatchObject({ ok: true });
    const sioGot = new Promise<Envelope>((resolve) => sio.once("message", resolve));
    const byQuery = await wsOpen(`?token=${encodeURIComponent(subscriberToken)}`);
    await wsSubscribe(byQuery);
    const byHeader = await wsOpen("", { authorization: `Bearer ${subscriberToken}` });
    await wsSubscribe(byHeader);

    // Forged credentials, each refused.
    expect(await sioOutcome(sioConnect({ token: forgedToken }))).toBe("unauthorized");
    const forgedWs = await wsOpen(`?token=${encodeURIComponent(forgedToken)}`);
    expect(await forgedWs.closed).toBe(1008);
    expect(forgedWs.frames[0]).toMatchObject({ type: "error", error: { code: "unauthorized" } });
    expect((await publishWith(`Bearer ${forgedKey}`)).status).toBe(401);
    expect((await history(`Bearer ${forgedToken}`)).status).toBe(401);

    // The real ones at work.
    const published = await publishWith(`Bearer ${publisher.key}`);
    expect(published.status).toBe(201);
    expect((await sioGot).id).toBe(published.body.id);
    for (const peer of [byQuery, byHeader]) {
      await pollUntil("the message on /ws", async () => peer.frames.find((f) => f.type === "message"));
    }
    const read = await history(`Bearer ${subscriberToken}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { messages: Envelope[] }).messages.map((m) => m.id)).toEqual([
      published.body.id,
    ]);

    // Every connection closes, then both processes stop: each one's last line says it is done.
    sio.close();
    byQuery.ws.close();
    byHeader.ws.close();
    await pollUntil("three disconnect lines", async () =>
      tailerLog.records({ msg: "client disconnected" }).length >= 3 ? true : undefined,
    );
    await stopAll([ingest, tailer]);
    await pollUntil("the ingest's last line", async () => ingestLog.records({ msg: "drained" }).at(0));
    await pollUntil("the tailer's last line", async () =>
      tailerLog.records({ msg: "drained; exiting" }).at(0),
    );

    // What should be there.
    const requests = ingestLog.records({ msg: "request" });
    const seen = requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        `POST /v1/channels/${CHANNEL}/messages 201`,
        `POST /v1/channels/${CHANNEL}/messages 401`,
        `GET /v1/channels/${CHANNEL}/messages 200`,
        `GET /v1/channels/${CHANNEL}/messages 401`,
      ]),
    );
    for (const r of requests)
      expect(r).toMatchObject({ requestId: expect.any(String), node: expect.any(String) });
    const connected = tailerLog.records({ msg: "client connected" });
    expect(connected.map((r) => r.transport).sort()).toEqual(["socket.io", "ws", "ws"]);
    for (const r of connected) expect(r).toMatchObject({ sub: "alice", connId: expect.any(String) });
    expect(ingestLog.records({ msg: "publisher authentication on" })).toHaveLength(1);

    // What must not be, anywhere in either process's output (stdout and stderr, every line).
    const secrets = {
      "API key": publisher.key,
      "forged API key": forgedKey,
      token: subscriberToken,
      "forged token": forgedToken,
      "token signature": subscriberToken.split(".")[2] as string,
      "forged token signature": forgedToken.split(".")[2] as string,
    };
    const lines = [...ingestLog.lines, ...tailerLog.lines];
    expect(lines.length).toBeGreaterThan(10);
    for (const [what, secret] of Object.entries(secrets)) {
      expect(
        lines.filter((line) => line.includes(secret)),
        what,
      ).toEqual([]);
    }
  });
});
