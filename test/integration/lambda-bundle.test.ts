/**
 * The built AWS Lambda bundle (dist/functions/lambda.mjs) in a plain `node` process, invoked with API
 * Gateway HTTP API (payload 2.0) and function-URL events (test/fixtures/lambda/) against the test
 * database: receipts, the error shape, delivery through a running tailer, and one MongoClient for the
 * instance's whole life.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LambdaEventV2,
  type LambdaProcess,
  type LambdaRequest,
  lambdaEvent,
  startLambdaProcess,
} from "../../infra/build/lambda-process.ts";
import type { Component } from "../../infra/local/component.ts";
import { authEnv, testKey } from "../helpers/auth.ts";
import { type BuiltBundles, buildToTemp } from "../helpers/bundles.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { componentEnv, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/lambda/${name}.json`, import.meta.url), "utf8"),
  ) as LambdaEventV2;
const httpApi = fixture("http-api-v2");
const functionUrl = fixture("function-url");

const db = testDbName(import.meta.url);
const publisher = testKey("lambda-test", ["lam:*"]);
const bearer = { authorization: `Bearer ${publisher.key}` };
let bundles: BuiltBundles;
let lambda: LambdaProcess;
let tailer: Component;
let subscriber: Subscriber;

beforeAll(async () => {
  bundles = await buildToTemp();
  tailer = await startTailer({ db });
  // The function with authentication on, as deployed; the tailer's subscribers are not under test here.
  lambda = startLambdaProcess({
    bundle: bundles.file("functions/lambda.mjs"),
    env: { ...componentEnv({ db }), ...authEnv([publisher]) },
  });
  await lambda.ready;
  subscriber = await connectSubscriber(tailer.url, ["message", "chat"]);
});

afterAll(async () => {
  subscriber?.close();
  await lambda?.close();
  await stopAll([tailer]);
  bundles?.remove();
});

async function invoke(template: LambdaEventV2, req: LambdaRequest) {
  const inv = await lambda.invoke(lambdaEvent(template, req));
  return {
    ...inv,
    status: inv.result.statusCode,
    json: JSON.parse(inv.result.body) as Record<string, unknown>,
  };
}

const publish = (
  template: LambdaEventV2,
  channel: string,
  body: unknown,
  extra: Partial<LambdaRequest> = {},
) =>
  invoke(template, {
    method: "POST",
    url: `/v1/channels/${encodeURIComponent(channel)}/messages`,
    headers: { ...bearer, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...extra,
  });

describe("the Lambda bundle", () => {
  let first: Awaited<ReturnType<typeof invoke>>;

  it("answers an HTTP API event with 201 and the receipt, and a tailer's client receives the message", async () => {
    await subscriber.subscribe("lam:room");
    first = await publish(httpApi, "lam:room", { event: "chat", data: { text: "from an HTTP API" } });
    expect(first.status, first.result.body).toBe(201);
    expect(first.result.headers["content-type"]).toMatch(/^application\/json/);
    expect(first.json).toEqual({
      id: expect.any(String),
      channel: "lam:room",
      offset: expect.any(Number),
      epoch: expect.any(String),
    });
    const [got] = await subscriber.waitFor(1, { channel: "lam:room" });
    expect(got).toMatchObject({ ...first.json, event: "chat", data: { text: "from an HTTP API" } });
  });

  it("answers a function-URL event, base64 body included, with the batch's receipts", async () => {
    const messages = [
      { channel: "lam:room", data: 1 },
      { channel: "lam:other", event: "chat", data: 2 },
    ];
    const res = await invoke(functionUrl, {
      method: "POST",
      url: "/v1/messages",
      headers: { ...bearer, "content-type": "application/json" },
      body: JSON.stringify({ messages }),
      base64: true,
    });
    expect(res.status, res.result.body).toBe(201);
    const results = res.json.results as Array<{ id: string; channel: string; offset: number }>;
    expect(results.map((r) => r.channel)).toEqual(["lam:room", "lam:other"]);
    const got = await subscriber.waitFor(2, { channel: "lam:room" });
    expect(got[1]).toMatchObject({ id: results[0]?.id, data: 1 });
  });

  it("reuses the instance's MongoClient on the next invocations: same client, no new connection", async () => {
    const again = await publish(httpApi, "lam:room", { data: "warm" });
    const url = await publish(functionUrl, "lam:room", { data: "warm via URL" });
    for (const inv of [again, url]) {
      expect(inv.status).toBe(201);
      expect(inv.clientId).toBe(first.clientId);
      expect(inv.connectionsCreated).toBe(0);
      // Counted by the process, not the client: a handler making its own clients would add sockets.
      expect(inv.tcpSockets).toBe(first.tcpSockets);
    }
    expect(again.tcpSockets).toBeGreaterThan(0);
    expect((url.json.offset as number) > (again.json.offset as number)).toBe(true);
  });

  it("answers errors in the documented JSON shape", async () => {
    const noCredential = { headers: { "content-type": "application/json" } };
    const cases: Array<[string, () => ReturnType<typeof invoke>, number, string]> = [
      ["bad JSON", () => publish(httpApi, "lam:room", "{not json"), 400, "invalid_json"],
      [
        "no credential",
        () => publish(functionUrl, "lam:room", { data: 1 }, noCredential),
        401,
        "unauthorized",
      ],
      ["a channel outside the key", () => publish(httpApi, "orders:1", { data: 1 }), 403, "forbidden"],
      [
        "an unknown path",
        () => invoke(functionUrl, { method: "GET", url: "/v2/nothing?x=1&x=2", headers: bearer }),
        404,
        "not_found",
      ],
    ];
    for (const [what, run, status, code] of cases) {
      const res = await run();
      expect(res.status, what).toBe(status);
      expect(res.result.headers["content-type"], what).toMatch(/^application\/json/);
      expect(res.json, what).toEqual({ error: { code, message: expect.any(String) } });
    }
  });

  it("serves the health and readiness probes", async () => {
    for (const url of ["/healthz", "/readyz"]) {
      const res = await invoke(httpApi, { method: "GET", url });
      expect(res.status, url).toBe(200);
      expect(res.json, url).toMatchObject({ ok: true });
    }
  });
});
