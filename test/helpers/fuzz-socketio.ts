/**
 * Hostile Socket.IO traffic for fuzzing a tailer: payloads of every wrong type for its events, raw
 * Engine.IO/Socket.IO frames over a plain `ws` connection (no client library to keep them polite),
 * and the exact shapes an ack may take (README "Socket.IO").
 */
import fc from "fast-check";
import WebSocket from "ws";
import { HOSTILE_KEYS, jsonish } from "./fuzz-json.ts";

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
const keys = (o: Record<string, unknown>) => Object.keys(o).sort().join();

/** Why `ack` is not an allowed reply to `event`, or null when it is. */
export function ackProblem(event: string, ack: unknown): string | null {
  const shown = JSON.stringify(ack)?.slice(0, 200);
  if (!isRecord(ack)) return `${event} ack is not an object: ${shown}`;
  if (ack.ok === false) {
    const e = ack.error;
    const exact =
      keys(ack) === "error,ok" &&
      isRecord(e) &&
      keys(e) === "code,message" &&
      typeof e.code === "string" &&
      SNAKE.test(e.code) &&
      typeof e.message === "string" &&
      e.message.length > 0;
    return exact ? null : `${event} error ack is not exactly { ok:false, error:{ code, message } }: ${shown}`;
  }
  if (ack.ok !== true) return `${event} ack has no boolean ok: ${shown}`;
  const good =
    event === "subscribe"
      ? keys(ack) === "channel,epoch,offset,ok,recovered" &&
        typeof ack.channel === "string" &&
        typeof ack.epoch === "string" &&
        Number.isSafeInteger(ack.offset) &&
        typeof ack.recovered === "boolean"
      : event === "unsubscribe"
        ? keys(ack) === "channel,ok" && typeof ack.channel === "string"
        : keys(ack) === "expiresAt,ok,revoked" && Array.isArray(ack.revoked);
  return good ? null : `${event} ok ack has the wrong shape: ${shown}`;
}

/** What a client may put where `{ channel, since? }` or `{ token }` is expected. */
export const hostilePayload: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: jsonish },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        channel: fc.oneof(
          fc.constantFrom<unknown>(
            ...HOSTILE_KEYS,
            "ok-channel",
            "a.b",
            "*",
            "$where",
            1,
            null,
            [],
            {},
            true,
          ),
          fc.string({ unit: "binary", maxLength: 40 }),
          fc.integer({ min: 100, max: 60_000 }).map((n) => "c".repeat(n)),
        ),
        since: fc.oneof(
          fc.constantFrom<unknown>(
            null,
            "0",
            0,
            [],
            {},
            { offset: -1, epoch: "e" },
            { offset: 1.5, epoch: "e" },
          ),
          fc.record({
            offset: fc.oneof(fc.nat(), fc.double(), fc.constantFrom<unknown>("1", null, 2 ** 53 + 2, -0)),
            epoch: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom<unknown>(1, null, {})),
          }),
        ),
        token: fc.oneof(fc.string({ maxLength: 100 }), jsonish),
        ["__proto__"]: jsonish,
      },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      null,
      0,
      -1,
      Number.MAX_VALUE,
      "",
      "subscribe",
      "x".repeat(60_000),
      [],
      [{ channel: "a" }],
      { channel: { $gt: "" } },
      { channel: ["a"] },
      { channel: { toString: "a" } },
      { length: 1, 0: "a" },
    ),
  },
);

// ---- raw frames over plain ws --------------------------------------------------------------------

export interface RawIo {
  ws: WebSocket;
  /** Text frames received, in order (Engine.IO pings are answered and not recorded). */
  frames: string[];
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
  /** Resolves with the first frame that starts with `prefix`, or null after `timeoutMs` or a close. */
  next(prefix: string, timeoutMs: number): Promise<string | null>;
  close(): void;
}

/** A Socket.IO connection spoken by hand: Engine.IO v4 over websocket, then `40` for the namespace. */
export async function rawIo(baseUrl: string, connectNamespace = true): Promise<RawIo> {
  const url = `${baseUrl.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url);
  const frames: string[] = [];
  const waiters = new Set<() => void>();
  let isClosed = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      isClosed = true;
      for (const w of waiters) w();
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on("error", () => {}); // a refused or reset connection shows as `closed`
  ws.on("message", (data, isBinary) => {
    const text = isBinary ? `<binary ${(data as Buffer).length}>` : data.toString();
    if (text === "2") {
      ws.send("3");
      return;
    }
    frames.push(text);
    for (const w of waiters) w();
  });
  const next = (prefix: string, timeoutMs: number) =>
    new Promise<string | null>((resolve) => {
      let seen = 0;
      const check = () => {
        for (; seen < frames.length; seen++) {
          const f = frames[seen] as string;
          if (f.startsWith(prefix)) return finish(f);
        }
        if (isClosed) finish(null);
      };
      const finish = (f: string | null) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(f);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      waiters.add(check);
      check();
    });
  const io: RawIo = {
    ws,
    frames,
    closed,
    isClosed: () => isClosed,
    next,
    close: () => ws.terminate(),
  };
  if ((await next("0{", 5000)) === null) throw new Error("no Engine.IO open packet");
  if (connectNamespace) {
    ws.send("40");
    if ((await next("40{", 5000)) === null) throw new Error("namespace connect refused");
  }
  return io;
}

/** Frames that are almost Socket.IO: truncated, mistyped, wrongly framed, or plain noise. */
export const garbageFrame: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          "",
          "0",
          "1",
          "2",
          "3",
          "4",
          "5",
          "6",
          "7",
          "9",
          "40",
          "41",
          "42",
          "43",
          "44",
          "45",
          "46",
        ),
        fc.constantFrom("", "0", "1", "999999999999999999999", "-1", "/", "/x,", "/admin,", "1-", "9-"),
        fc.oneof(
          fc.json(),
          fc.string({ maxLength: 30 }),
          fc.constantFrom(
            '["subscribe"',
            '["subscribe",',
            '["subscribe",{"channel":',
            '["subscribe",{"channel":"a"}',
            '["subscribe",{"_placeholder":true,"num":0}]',
            '["subscribe",{"_placeholder":true,"num":99}]',
            '["__proto__",{}]',
            '["constructor"]',
            '["error",{"code":"x"}]',
            '["disconnect"]',
            '["newListener","subscribe"]',
            "[",
            "]",
            "{}",
            "null",
            "[]",
            "[1]",
            "[null]",
          ),
        ),
      )
      .map(([type, mid, rest]) => type + mid + rest),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('421["subscribe",{"channel":"raw-ok"}]', '40{"token":"x"}', '451-["refresh",{}]'),
        fc.nat(),
      )
      .map(([frame, cut]) => frame.slice(0, cut % frame.length)),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) },
);
