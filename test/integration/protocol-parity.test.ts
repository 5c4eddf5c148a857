/**
 * Socket.IO and /ws are two doors to one session (tailer/session.ts): the same requests get the same
 * answers. Every subscribe payload here — hand-picked ones and the hostile ones the Socket.IO fuzzing
 * uses — is sent through both transports to one real tailer with auth on, and the answer codes must be
 * identical. Reproduce with FUZZ_SEED=<seed>.
 */
import fc from "fast-check";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { Component } from "../../infra/local/component.ts";
import { isPlainObject } from "../../shared/json.ts";
import { JWT_SECRET, token } from "../helpers/auth.ts";
import { hostilePayload } from "../helpers/fuzz-socketio.ts";
import { startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_501);
const db = testDbName(import.meta.url);
/** The token's channels: one exact name and one prefix, so that other channels are forbidden. */
const CHANNELS = ["ok-channel", "c*"];
let node: Component;
let sio: Socket;
let ws: WebSocket;
let epoch: string;

/** A /ws connection that matches replies to requests by id. */
function wsRequester(socket: WebSocket) {
  const pending = new Map<number, (frame: Record<string, unknown>) => void>();
  let nextId = 1;
  socket.on("message", (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    // A reply to a frame that was not a request at all carries id null: it answers the oldest one.
    const id = typeof frame.id === "number" ? frame.id : Math.min(...pending.keys());
    pending.get(id)?.(frame);
    pending.delete(id);
  });
  return (frame: (id: number) => unknown): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`no /ws reply to request ${id}`)), 10_000);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(JSON.stringify(frame(id)));
    });
}
let wsRequest: ReturnType<typeof wsRequester>;

beforeAll(async () => {
  node = await startTailer({ db, env: { TAILCAST_AUTH: "on", TAILCAST_JWT_SECRET: JWT_SECRET } });
  const jwt = await token({ sub: "parity", channels: CHANNELS });
  sio = io(node.url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    auth: { token: jwt },
  });
  ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws?token=${jwt}`);
  await Promise.all([
    new Promise<void>((resolve, reject) => {
      sio.once("connect", () => resolve());
      sio.once("connect_error", reject);
    }),
    new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    }),
  ]);
  wsRequest = wsRequester(ws);
  const ack = (await sio.timeout(10_000).emitWithAck("subscribe", { channel: "ok-channel" })) as {
    epoch: string;
  };
  epoch = ack.epoch;
});

afterAll(async () => {
  sio?.close();
  ws?.close();
  await stopAll([node]);
});

type Answer = { code: string; recovered?: unknown };

async function viaSocketIo(event: "subscribe" | "unsubscribe", payload: unknown): Promise<Answer> {
  const ack = (await sio.timeout(10_000).emitWithAck(event, payload)) as Record<string, unknown>;
  if (ack.ok === true) {
    if (event === "subscribe") await sio.timeout(10_000).emitWithAck("unsubscribe", { channel: ack.channel });
    return { code: "ok", recovered: ack.recovered };
  }
  return { code: String((ack.error as { code?: unknown } | undefined)?.code) };
}

/** The same request as a /ws frame: the payload's fields beside `type` and `id`, or, if it is no object, the payload itself. */
async function viaWs(type: "subscribe" | "unsubscribe", payload: unknown): Promise<Answer> {
  const reply = await wsRequest((id) => (isPlainObject(payload) ? { ...payload, type, id } : payload));
  if (reply.type === "error") return { code: String((reply.error as { code?: unknown }).code) };
  if (type === "subscribe") await wsRequest((id) => ({ type: "unsubscribe", id, channel: reply.channel }));
  return { code: "ok", recovered: reply.recovered };
}

function payloads(): unknown[] {
  const fixed: unknown[] = [
    { channel: "ok-channel" },
    { channel: "c123" },
    { channel: "ok-channel", since: { offset: 0, epoch } },
    { channel: "ok-channel", since: { offset: 0, epoch: "another-epoch" } },
    { channel: "ok-channel", since: { offset: 1e12, epoch } },
    { channel: "ok-channel", since: { offset: -1, epoch } },
    { channel: "not-allowed" },
    { channel: "not-allowed", since: { offset: 0, epoch } },
    { channel: "not-allowed", since: "0" },
    { channel: "$where" },
    { channel: "" },
    {},
    null,
    "ok-channel",
    ["ok-channel"],
    42,
  ];
  const sampled = fc.sample(hostilePayload, { seed: SEED, numRuns: 400 });
  // The 64 KiB frame limit is the same on both transports but their framing differs by a few bytes:
  // payloads near it would test that difference, not the session.
  return [...fixed, ...sampled.filter((p) => (JSON.stringify(p) ?? "").length < 50_000)];
}

describe(`one session behind both transports (seed ${SEED})`, () => {
  it("answers every subscribe and unsubscribe payload with the same code on Socket.IO and /ws", async () => {
    const differences: string[] = [];
    const codes = new Map<string, number>();
    const all = payloads();
    for (const [i, payload] of all.entries()) {
      for (const event of ["subscribe", "unsubscribe"] as const) {
        const [a, b] = [await viaSocketIo(event, payload), await viaWs(event, payload)];
        const key = `${event}:${a.code}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          const shown = JSON.stringify(payload)?.slice(0, 200);
          differences.push(
            `#${i} ${event} ${shown}: Socket.IO ${JSON.stringify(a)}, /ws ${JSON.stringify(b)}`,
          );
        }
      }
    }
    console.log(`protocol-parity: ${all.length} payloads, ${JSON.stringify(Object.fromEntries(codes))}`);
    expect(differences).toEqual([]);
    // The payloads reach every outcome a subscribe can have on a ready node.
    for (const code of ["ok", "invalid_request", "invalid_channel", "forbidden"]) {
      expect(codes.get(`subscribe:${code}`) ?? 0, code).toBeGreaterThan(0);
    }
  });
});
