/**
 * Who may subscribe: JWTs checked at connect, channel claims checked at subscribe, expiry and
 * refresh while connected, connection and subscription limits. Real tailer process, real clients.
 */
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type Component, startComponent } from "../../infra/local/component.ts";
import type { Envelope } from "../../shared/message.ts";
import { authEnv, testKey, token, unsignedToken } from "../helpers/auth.ts";
import { componentEnv, post, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const publisher = testKey("pub", ["*"]);
let ingest: Component;
let node: Component;
const sockets: Socket[] = [];
const MAX_CONNECTIONS = 8;

beforeAll(async () => {
  const env = {
    ...authEnv([publisher]),
    TAILCAST_MAX_SUBSCRIPTIONS: "3",
    // Fewer than the refused handshakes this file makes, and not fewer than the good connections it
    // opens on this node (8): a refusal that held its slot would turn later answers into rate_limited.
    TAILCAST_MAX_CONNECTIONS_PER_IP: String(MAX_CONNECTIONS),
  };
  [ingest, node] = await Promise.all([startFunctions({ db, env }), startTailer({ db, env })]);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await stopAll([ingest, node]);
});

function open(auth: Record<string, unknown> | undefined): Socket {
  const s = io(node.url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...(auth ? { auth } : {}),
  });
  sockets.push(s);
  return s;
}

/** Resolves with the connect_error code, or "connected". */
function outcome(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once("connect", () => resolve("connected"));
    s.once("connect_error", (err: Error & { data?: { code?: string } }) =>
      resolve(err.data?.code ?? `no code: ${err.message}`),
    );
  });
}

async function connected(claims: Parameters<typeof token>[0]): Promise<Socket> {
  const s = open({ token: await token(claims) });
  expect(await outcome(s)).toBe("connected");
  return s;
}

const publish = (channel: string, data: unknown) =>
  post(
    `${ingest.url}/v1/channels/${channel}/messages`,
    { data },
    { authorization: `Bearer ${publisher.key}` },
  );

const nextMessage = (s: Socket) => new Promise<Envelope>((resolve) => s.once("message", resolve));

describe("subscriber authentication at connect", () => {
  it("refuses missing, forged, unsigned, expired, not-yet-valid and wrong-algorithm tokens", async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<Record<string, unknown> | undefined> = [
      undefined,
      { token: 42 },
      { token: "not.a.jwt" },
      { token: await token({ channels: ["*"] }, { secret: "some-other-secret-that-is-long-enough!!" }) },
      { token: unsignedToken({ sub: "mallory", exp: now + 600, channels: ["*"] }) },
      { token: await token({ channels: ["*"], exp: now - 30 }) },
      { token: await token({ channels: ["*"], nbf: now + 600 }) },
      { token: await token({ channels: ["*"] }, { alg: "HS384" }) },
      { token: await token({}) },
    ];
    // Twice over: more refusals than the address's connection slots, so one that kept its slot shows.
    expect(cases.length).toBeGreaterThan(MAX_CONNECTIONS / 2);
    for (const auth of [...cases, ...cases]) expect(await outcome(open(auth))).toBe("unauthorized");
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });

  it("lets a subscriber into its channels only; a refused subscribe never joins the room", async () => {
    const s = await connected({ channels: ["chat:*"] });
    expect(await s.timeout(5000).emitWithAck("subscribe", { channel: "chat:1" })).toMatchObject({ ok: true });
    const refused = await s.timeout(5000).emitWithAck("subscribe", { channel: "orders" });
    expect(refused).toEqual({ ok: false, error: { code: "forbidden", message: expect.any(String) } });
    const got: Envelope[] = [];
    s.on("message", (m: Envelope) => got.push(m));
    await publish("orders", "secret");
    const marker = nextMessage(s);
    await publish("chat:1", "marker");
    await marker;
    expect(got.map((m) => m.data)).toEqual(["marker"]);
  });

  it("caps subscriptions per connection", async () => {
    const s = await connected({ channels: ["*"] });
    for (const ch of ["a", "b", "c"])
      expect((await s.timeout(5000).emitWithAck("subscribe", { channel: ch })).ok).toBe(true);
    const fourth = await s.timeout(5000).emitWithAck("subscribe", { channel: "d" });
    expect(fourth.error.code).toBe("invalid_request");
    expect((await s.timeout(5000).emitWithAck("subscribe", { channel: "a" })).ok).toBe(true);
  });
});

/**
 * Tokens that expire soon, signed up front. Connections in these tests start with a long-lived token
 * and switch to a short one by `refresh`, so nothing slow (connecting, subscribing, signing) has to fit
 * before the expiry; a token refreshed a little late is still accepted within the clock tolerance, and
 * then expires at once.
 */
async function expiringSoon(channels: string[], seconds = 3) {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  return { exp, short: await token({ channels, exp }), long: await token({ channels }) };
}

describe("token expiry while connected", () => {
  it("tells and disconnects a client whose token expires; a refreshed one keeps going", async () => {
    const stale = await connected({ channels: ["live"] });
    const fresh = await connected({ channels: ["live"] });
    for (const s of [stale, fresh])
      expect((await s.timeout(5000).emitWithAck("subscribe", { channel: "live" })).ok).toBe(true);
    const wrongSubject = await fresh
      .timeout(5000)
      .emitWithAck("refresh", { token: await token({ sub: "bob", channels: ["live"] }) });
    expect(wrongSubject.error.code).toBe("forbidden");

    const { exp, short, long } = await expiringSoon(["live"]);
    const told = new Promise<{ code: string }>((resolve) => stale.once("error", resolve));
    const gone = new Promise<string>((resolve) => stale.once("disconnect", resolve));
    // Not awaited: a late refresh expires at once, and the ack may never come.
    stale.emit("refresh", { token: short });
    // Both refreshes of `fresh` in order (each verification is async): the long one must win.
    expect(await fresh.timeout(5000).emitWithAck("refresh", { token: short })).toMatchObject({ ok: true });
    const refreshed = await fresh.timeout(5000).emitWithAck("refresh", { token: long });
    expect(refreshed).toMatchObject({ ok: true, revoked: [] });
    expect(refreshed.expiresAt).toBeGreaterThan(exp * 1000);

    expect((await told).code).toBe("token_expired");
    expect(await gone).toBe("io server disconnect");

    // The original expiry has passed (the stale client was cut at it): the refreshed one still receives.
    expect(fresh.connected).toBe(true);
    const next = nextMessage(fresh);
    await publish("live", "after expiry");
    expect((await next).data).toBe("after expiry");
  });

  it("drops channels a refreshed token no longer allows", async () => {
    const s = await connected({ channels: ["x", "y"] });
    for (const ch of ["x", "y"]) await s.timeout(5000).emitWithAck("subscribe", { channel: ch });
    const res = await s.timeout(5000).emitWithAck("refresh", { token: await token({ channels: ["x"] }) });
    expect(res).toMatchObject({ ok: true, revoked: ["y"] });
    const got: Envelope[] = [];
    s.on("message", (m: Envelope) => got.push(m));
    await publish("y", "revoked");
    const marker = nextMessage(s);
    await publish("x", "marker");
    await marker;
    expect(got.map((m) => m.data)).toEqual(["marker"]);
  });
});

describe("secure by default and connection limits", () => {
  it("a tailer refuses to start without JWT settings unless TAILCAST_AUTH=off", async () => {
    const env = componentEnv({ db });
    delete env.TAILCAST_AUTH;
    const proc = await startComponent({ kind: "tailer", env });
    expect((await proc.exited).code).toBe(1);
    expect(proc.output().join("\n")).toMatch(/TAILCAST_JWT_SECRET.*TAILCAST_AUTH=off/s);
  });

  it("limits connections per address across both transports; a refused handshake holds no slot", async () => {
    const limited = await startTailer({
      db,
      env: { ...authEnv([publisher]), TAILCAST_MAX_CONNECTIONS_PER_IP: "2" },
    });
    const wsSockets: WebSocket[] = [];
    try {
      const t = await token({ channels: ["*"] });
      const mk = (auth: { token: string } = { token: t }) => {
        const s = io(limited.url, { transports: ["websocket"], reconnection: false, forceNew: true, auth });
        sockets.push(s);
        return s;
      };
      /** A /ws connection's first error code, or "open" once it is admitted (a subscribe answered). */
      const mkWs = (tok: string = t) =>
        new Promise<{ ws: WebSocket; result: string }>((resolve) => {
          const ws = new WebSocket(
            `${limited.url.replace("http", "ws")}/ws?token=${encodeURIComponent(tok)}`,
          );
          wsSockets.push(ws);
          ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", id: 1, channel: "x" })));
          ws.on("message", (d) => {
            const f = JSON.parse(String(d)) as { type: string; error?: { code: string } };
            resolve({ ws, result: f.type === "error" ? (f.error?.code ?? "no code") : "open" });
          });
        });
      // Refused handshakes, more than the limit, on both transports: none keeps a slot.
      for (let i = 0; i < 3; i++) {
        expect(await outcome(mk({ token: "garbage" }))).toBe("unauthorized");
        expect((await mkWs("garbage")).result).toBe("unauthorized");
      }
      // One slot taken by each transport: the count is shared, so the third connection is refused on both.
      const a = mk();
      expect(await outcome(a)).toBe("connected");
      const b = await mkWs();
      expect(b.result).toBe("open");
      expect(await outcome(mk())).toBe("rate_limited");
      expect((await mkWs()).result).toBe("rate_limited");
      // Closing the Socket.IO connection frees a slot for a /ws one (released when the server sees the
      // close, which the client cannot observe: retry until admitted).
      a.close();
      for (;;) {
        const { ws, result } = await mkWs();
        if (result === "open") break;
        expect(result).toBe("rate_limited");
        await new Promise<void>((r) => ws.once("close", () => r()));
      }
    } finally {
      for (const ws of wsSockets) ws.terminate();
      await limited.stop();
    }
  });
});

describe("subscribe rate", () => {
  it("limits a token subject's subscribes across transports and connections: rate_limited on both", async () => {
    // One subscribe per 100 s after a burst of 2: nothing refills during the test.
    const slow = await startTailer({
      db,
      env: { ...authEnv([publisher]), TAILCAST_SUBSCRIBE_RATE: "0.01", TAILCAST_SUBSCRIBE_BURST: "2" },
    });
    const wsSockets: WebSocket[] = [];
    try {
      const sio = io(slow.url, {
        transports: ["websocket"],
        reconnection: false,
        forceNew: true,
        auth: { token: await token({ channels: ["*"] }) },
      });
      sockets.push(sio);
      expect(await outcome(sio)).toBe("connected");
      /** A /ws connection that sends one subscribe when open and resolves with the reply frame. */
      const wsSubscribe = async (sub: string, channel: string) => {
        const t = await token({ sub, channels: ["*"] });
        const ws = new WebSocket(`${slow.url.replace("http", "ws")}/ws?token=${encodeURIComponent(t)}`);
        wsSockets.push(ws);
        ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", id: "s1", channel })));
        return new Promise<{ type: string; id?: unknown; error?: { code: string } }>((resolve) =>
          ws.once("message", (d) => resolve(JSON.parse(String(d)))),
        );
      };
      expect((await sio.timeout(5000).emitWithAck("subscribe", { channel: "r1" })).ok).toBe(true);
      expect(await wsSubscribe("alice", "r2")).toMatchObject({ type: "subscribed", id: "s1" });
      // alice's burst is spent: refused on either transport, on a connection that made no subscribe yet.
      expect(await sio.timeout(5000).emitWithAck("subscribe", { channel: "r3" })).toEqual({
        ok: false,
        error: { code: "rate_limited", message: expect.stringMatching(/retry after \d+ s/) },
      });
      expect(await wsSubscribe("alice", "r3")).toMatchObject({
        type: "error",
        id: "s1",
        error: { code: "rate_limited" },
      });
      // Another subject has its own rate.
      expect(await wsSubscribe("bob", "r3")).toMatchObject({ type: "subscribed" });
    } finally {
      for (const ws of wsSockets) ws.terminate();
      await slow.stop();
    }
  });
});

describe("/ws with tokens", () => {
  type Frame = { type: string; id?: unknown; error?: { code: string }; [k: string]: unknown };
  async function openWs(t?: string): Promise<{
    ws: WebSocket;
    frames: Frame[];
    next: (type: string) => Promise<Frame>;
    closed: Promise<number>;
    opened: Promise<void>;
  }> {
    const url = `${node.url.replace("http", "ws")}/ws${t ? `?token=${encodeURIComponent(t)}` : ""}`;
    const ws = new WebSocket(url);
    const frames: Frame[] = [];
    const waiters: Array<() => void> = [];
    ws.on("message", (d) => {
      frames.push(JSON.parse(String(d)) as Frame);
      for (const w of waiters.splice(0)) w();
    });
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    const opened = new Promise<void>((resolve) => ws.once("open", () => resolve()));
    const next = (type: string) =>
      new Promise<Frame>((resolve) => {
        const check = () => {
          const i = frames.findIndex((f) => f.type === type);
          if (i >= 0) resolve(frames.splice(i, 1)[0] as Frame);
          else waiters.push(check);
        };
        check();
      });
    return { ws, frames, next, closed, opened };
  }

  it("refuses a connection without a valid token with an error frame and 1008", async () => {
    for (const t of [
      undefined,
      "garbage",
      await token({ channels: ["*"] }, { secret: "some-other-secret-that-is-long-enough!!" }),
    ]) {
      const c = await openWs(t);
      expect((await c.next("error")).error?.code).toBe("unauthorized");
      expect(await c.closed).toBe(1008);
    }
  });

  it("checks channel claims, refreshes, and closes with 1008 when the token expires", async () => {
    const c = await openWs(await token({ channels: ["ws:*"] }));
    await c.opened;
    c.ws.send(JSON.stringify({ type: "subscribe", id: 1, channel: "ws:a" }));
    expect(await c.next("subscribed")).toMatchObject({ id: 1, channel: "ws:a" });
    c.ws.send(JSON.stringify({ type: "subscribe", id: 2, channel: "other" }));
    expect((await c.next("error")).error?.code).toBe("forbidden");
    c.ws.send(
      JSON.stringify({ type: "refresh", id: 3, token: await token({ sub: "eve", channels: ["*"] }) }),
    );
    expect((await c.next("error")).error?.code).toBe("forbidden");
    const { short } = await expiringSoon(["ws:*"], 2);
    c.ws.send(JSON.stringify({ type: "refresh", id: 4, token: short }));
    expect((await c.next("error")).error?.code).toBe("token_expired");
    expect(await c.closed).toBe(1008);
  });

  it("keeps a connection whose token was refreshed in time", async () => {
    const c = await openWs(await token({ channels: ["ws:*"] }));
    const control = await openWs(await token({ channels: ["ws:*"] }));
    await Promise.all([c.opened, control.opened]);
    c.ws.send(JSON.stringify({ type: "subscribe", id: 1, channel: "ws:b" }));
    await c.next("subscribed");
    const { short, long } = await expiringSoon(["ws:*"]);
    control.ws.send(JSON.stringify({ type: "refresh", id: 1, token: short }));
    c.ws.send(JSON.stringify({ type: "refresh", id: 2, token: short }));
    expect(await c.next("refreshed")).toMatchObject({ id: 2 });
    c.ws.send(JSON.stringify({ type: "refresh", id: 3, token: long }));
    expect(await c.next("refreshed")).toMatchObject({ id: 3, revoked: [] });
    expect(await control.closed).toBe(1008); // the short token's expiry has passed
    await publish("ws:b", "still here");
    expect((await c.next("message")).data).toBe("still here");
  });
});

describe("allowed origins", () => {
  it("refuses browser connections from other origins on both transports when configured", async () => {
    const strict = await startTailer({ db, env: { TAILCAST_ALLOWED_ORIGINS: "http://good.example" } });
    try {
      const wsStatus = (origin: string) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(`${strict.url.replace("http", "ws")}/ws`, { origin });
          ws.once("open", () => {
            ws.close();
            resolve(101);
          });
          ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
          ws.once("error", () => {});
        });
      expect(await wsStatus("http://evil.example")).toBe(403);
      expect(await wsStatus("http://good.example")).toBe(101);
      const sio = (origin: string) => {
        const s = io(strict.url, {
          transports: ["websocket"],
          reconnection: false,
          forceNew: true,
          extraHeaders: { origin },
        });
        sockets.push(s);
        return outcome(s);
      };
      expect(await sio("http://good.example")).toBe("connected");
      expect(await sio("http://evil.example")).not.toBe("connected");
    } finally {
      await strict.stop();
    }
  });
});
