/**
 * What the tailcast client tells the application when something is refused, against a real tailer with
 * auth on: a connection refused with a code (reported, and retried with a token asked again), a
 * subscription refused for good (reported and dropped; the others go on), and a message handler that
 * throws (reported as `handler_error`; later messages still arrive).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";
import type { Client, ClientError, ClientOptions, Envelope, TransportName } from "../../client/index.ts";
import { createClient } from "../../client/index.ts";
import type { Component } from "../../infra/local/component.ts";
import { authEnv, testKey, token } from "../helpers/auth.ts";
import { post, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const publisher = testKey("pub", ["*"]);
let ingest: Component;
let node: Component;
const clients: Client[] = [];

beforeAll(async () => {
  const env = authEnv([publisher]);
  [ingest, node] = await Promise.all([startFunctions({ db, env }), startTailer({ db, env })]);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => stopAll([ingest, node]));

function client(transport: TransportName, tokenOption: ClientOptions["token"]): Client {
  const c = createClient({
    urls: [node.url],
    transport,
    token: tokenOption,
    // Node 20 has no global WebSocket.
    WebSocket: WsWebSocket as unknown as typeof WebSocket,
    backoff: { initialMs: 20, maxMs: 100 },
    timeoutMs: 5000,
  });
  clients.push(c);
  return c;
}

/** The client's `error` events, and a way to wait for the n-th one. */
function errors(c: Client) {
  const seen: ClientError[] = [];
  const waiters: Array<() => void> = [];
  c.on("error", (e) => {
    seen.push(e);
    for (const w of waiters.splice(0)) w();
  });
  const count = (n: number) =>
    new Promise<ClientError[]>((resolve) => {
      const check = () => (seen.length >= n ? resolve(seen.slice(0, n)) : waiters.push(check));
      check();
    });
  return { seen, count };
}

const publish = (channel: string, data: unknown) =>
  post(
    `${ingest.url}/v1/channels/${channel}/messages`,
    { data },
    { authorization: `Bearer ${publisher.key}` },
  );

describe("a connection refused with a code", () => {
  it("over socket.io: reported with channel null, and retried with the token asked again", async () => {
    let asked = 0;
    const c = client("socket.io", async () => {
      asked++;
      return "not-a-token";
    });
    const refused = await errors(c).count(2);
    expect(refused).toEqual([
      { channel: null, error: { code: "unauthorized", message: expect.any(String) } },
      { channel: null, error: { code: "unauthorized", message: expect.any(String) } },
    ]);
    expect(asked).toBeGreaterThanOrEqual(2);
  });
});

describe.each(["ws", "socket.io"] as const)("a connection ended with a code, over %s", (transport) => {
  it("a refused token is reported with channel null, and retried with the token asked again", async () => {
    let asked = 0;
    const c = client(transport, async () => {
      asked++;
      return "not-a-token";
    });
    const refused = await errors(c).count(2);
    expect(refused.map((e) => [e.channel, e.error.code])).toEqual([
      [null, "unauthorized"],
      [null, "unauthorized"],
    ]);
    expect(asked).toBeGreaterThanOrEqual(2);
  });

  it("an expired token is reported as token_expired (cut while connected, or refused at connect)", async () => {
    // Either way the application learns the same code; which one happens depends only on how fast this
    // machine connects within the token's two seconds, so nothing here depends on the clock.
    const c = client(transport, await token({ channels: ["*"], exp: Math.floor(Date.now() / 1000) + 2 }));
    const [expired] = await errors(c).count(1);
    expect(expired).toEqual({ channel: null, error: { code: "token_expired", message: expect.any(String) } });
  });
});

describe.each(["ws", "socket.io"] as const)("client over %s", (transport) => {
  it("reports a subscription refused for good and drops it; the others go on", async () => {
    const c = client(transport, await token({ channels: [`ok:${transport}`] }));
    const { count } = errors(c);
    const got: unknown[] = [];
    const subscribed = new Promise<void>((resolve) =>
      c.on("subscribed", ({ channel }) => channel === `ok:${transport}` && resolve()),
    );
    const arrived = new Promise<void>((resolve) =>
      c.subscribe(`ok:${transport}`, (m) => {
        got.push(m.data);
        resolve();
      }),
    );
    c.subscribe(`secret:${transport}`, () => got.push("secret"));
    const [refused] = await count(1);
    expect(refused).toEqual({
      channel: `secret:${transport}`,
      error: { code: "forbidden", message: expect.any(String) },
    });
    await subscribed;
    await publish(`secret:${transport}`, "never");
    await publish(`ok:${transport}`, "hello");
    await arrived;
    expect(got).toEqual(["hello"]);
    // Dropped for good: the channel can be subscribed to again (it would throw while still held).
    expect(() => c.subscribe(`secret:${transport}`, () => {})).not.toThrow();
  });

  it("reports a handler that throws as handler_error, and goes on delivering", async () => {
    const c = client(transport, await token({ channels: ["*"] }));
    const { count } = errors(c);
    const channel = `handler:${transport}`;
    const delivered: unknown[] = [];
    const second = new Promise<void>((resolve) =>
      c.subscribe(channel, (m: Envelope) => {
        delivered.push(m.data);
        if (m.data === "first") throw new Error("handler broke");
        resolve();
      }),
    );
    await new Promise<void>((resolve) => c.on("subscribed", (s) => s.channel === channel && resolve()));
    await publish(channel, "first");
    const [failed] = await count(1);
    expect(failed).toEqual({
      channel,
      error: { code: "handler_error", message: "handler broke" },
      cause: expect.any(Error),
    });
    await publish(channel, "second");
    await second;
    expect(delivered).toEqual(["first", "second"]);
  });
});
