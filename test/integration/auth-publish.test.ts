/**
 * Who may publish and read history: API keys with channel scopes and rates, subscriber tokens for
 * history, secure by default. Real function process, real database.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Component, startComponent } from "../../infra/local/component.ts";
import { authEnv, testKey, token, unsignedToken } from "../helpers/auth.ts";
import { componentEnv, post, startFunctions, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const chat = testKey("chat-bot", ["chat:*"]);
// A token every 100 s: the burst of 2 is all this key gets during the test, however slow the machine.
const orders = testKey("orders", ["orders:*"], { perSecond: 0.01, burst: 2 });
let ingest: Component;

beforeAll(async () => {
  ingest = await startFunctions({ db, env: authEnv([chat, orders]) });
});
afterAll(() => stopAll([ingest]));

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const send = (channel: string, headers: Record<string, string>, data: unknown = 1) =>
  post(`${ingest.url}/v1/channels/${channel}/messages`, { data }, headers);
const count = () =>
  withDb(inject("mongodbUri"), (c) =>
    c
      .db(db)
      .collection("bus")
      .countDocuments({ channel: { $exists: true } }),
  );
const code = (body: Record<string, unknown>) => (body.error as { code: string }).code;

describe("publisher authentication", () => {
  it("refuses missing, malformed and unknown keys with 401 and stores nothing", async () => {
    const before = await count();
    for (const headers of [
      {},
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: "Bearer" },
      bearer("tc_not-a-real-key"),
      bearer(`${chat.key}x`),
      bearer(await token({ channels: ["chat:*"] })),
    ]) {
      const res = await send("chat:room", headers);
      expect(res.status).toBe(401);
      expect(code(res.body)).toBe("unauthorized");
      expect(JSON.stringify(res.body)).not.toContain(chat.key);
    }
    expect(await count()).toBe(before);
  });

  it("allows a key inside its channel patterns and refuses outside them with 403", async () => {
    expect((await send("chat:room", bearer(chat.key))).status).toBe(201);
    const outside = await send("orders:1", bearer(chat.key));
    expect(outside.status).toBe(403);
    expect(code(outside.body)).toBe("forbidden");
    expect((await send("chat", bearer(chat.key))).status).toBe(403);
  });

  it("refuses a whole batch when one message is outside the key's channels", async () => {
    const before = await count();
    const res = await post(
      `${ingest.url}/v1/messages`,
      {
        messages: [
          { channel: "chat:a", data: 1 },
          { channel: "orders:1", data: 2 },
        ],
      },
      bearer(chat.key),
    );
    expect(res.status).toBe(403);
    expect(await count()).toBe(before);
  });

  it("limits a key to its rate with 429 and Retry-After, without touching other keys", async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await send("orders:1", bearer(orders.key), i));
    expect(results.map((r) => r.status)).toEqual([201, 201, 429, 429]);
    expect(code(results[2]?.body ?? {})).toBe("rate_limited");
    expect(Number(results[2]?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await send("chat:room", bearer(chat.key))).status).toBe(201);
  });

  it("scopes idempotency keys per publisher", async () => {
    const other = testKey("chat-bot-2", ["chat:*"]);
    const second = await startFunctions({ db, env: authEnv([chat, other]) });
    try {
      const a = await post(
        `${second.url}/v1/channels/chat:idem/messages`,
        { data: 1 },
        { ...bearer(chat.key), "Idempotency-Key": "same" },
      );
      const b = await post(
        `${second.url}/v1/channels/chat:idem/messages`,
        { data: 1 },
        { ...bearer(other.key), "Idempotency-Key": "same" },
      );
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(a.body.id).not.toBe(b.body.id);
    } finally {
      await second.stop();
    }
  });
});

describe("history access", () => {
  const history = (channel: string, headers: Record<string, string>) =>
    fetch(`${ingest.url}/v1/channels/${channel}/messages?limit=5`, { headers });

  it("takes an API key or a subscriber token scoped to the channel", async () => {
    expect((await history("chat:room", bearer(chat.key))).status).toBe(200);
    expect((await history("orders:1", bearer(chat.key))).status).toBe(403);
    expect((await history("chat:room", bearer(await token({ channels: ["chat:*"] })))).status).toBe(200);
    expect((await history("orders:1", bearer(await token({ channels: ["chat:*"] })))).status).toBe(403);
    expect((await history("chat:room", {})).status).toBe(401);
  });

  it("refuses forged, unsigned, expired and wrong-algorithm tokens", async () => {
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      await token({ channels: ["chat:*"] }, { secret: "another-secret-that-is-long-enough-0123" }),
      unsignedToken({ sub: "mallory", exp: now + 600, channels: ["*"] }),
      await token({ channels: ["chat:*"], exp: now - 60 }),
      await token({ channels: ["chat:*"], nbf: now + 600 }),
      await token({ channels: ["chat:*"] }, { alg: "HS384" }),
      await token({}),
    ];
    for (const t of bad) {
      const res = await history("chat:room", bearer(t));
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
  });
});

describe("secure by default", () => {
  it("refuses to start without credentials unless TAILCAST_AUTH=off", async () => {
    const env = componentEnv({ db });
    delete env.TAILCAST_AUTH;
    const proc = await startComponent({ kind: "functions", env });
    expect((await proc.exited).code).toBe(1);
    expect(proc.output().join("\n")).toMatch(/TAILCAST_API_KEYS.*TAILCAST_AUTH=off/s);
  });
});
