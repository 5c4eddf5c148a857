/**
 * The built AWS Lambda bundle (dist/functions/lambda.mjs) in a plain `node` process, invoked with API
 * Gateway HTTP API (payload 2.0) and function-URL events (test/fixtures/lambda/) against the test
 * database: receipts, the error shape, delivery through a running tailer, and one MongoClient for the
 * instance's whole life. The process gets the environment infra/aws/template.yaml declares (its
 * secrets resolved to the test's), so a variable the template names wrong fails here; the template's
 * handler and code location are checked against the build.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAMBDA_POOL } from "../../functions/lambda-pool.ts";
import { BUNDLES } from "../../infra/build/bundle.ts";
import {
  type LambdaEventV2,
  type LambdaProcess,
  type LambdaRequest,
  lambdaEvent,
  startLambdaProcess,
} from "../../infra/build/lambda-process.ts";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import type { Component } from "../../infra/local/component.ts";
import { testKey } from "../helpers/auth.ts";
import { type BuiltBundles, buildToTemp } from "../helpers/bundles.ts";
import { evaluate, loadTemplate } from "../helpers/cloudformation.ts";
import { envNamesRead } from "../helpers/deploy-code.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
import { componentEnv, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/lambda/${name}.json`, import.meta.url), "utf8"),
  ) as LambdaEventV2;
const httpApi = fixture("http-api-v2");
const functionUrl = fixture("function-url");

const TEMPLATE_PATH = join(REPO_ROOT, "infra", "aws", "template.yaml");
const template = loadTemplate(readFileSync(TEMPLATE_PATH, "utf8"));
const resources = template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const [, fn] =
  Object.entries(resources).find(([, r]) => r.Type === "AWS::Serverless::Function") ??
  (() => {
    throw new Error("no AWS::Serverless::Function in the template");
  })();
const fnProps = fn.Properties;

const db = testDbName(import.meta.url);
const publisher = testKey("lambda-test", ["lam:*"]);

/** The function's environment as the template declares it, deployed with the test's database and key. */
function templateEnv(): Record<string, string> {
  const variables = (fnProps.Environment as { Variables: Record<string, unknown> }).Variables;
  const secretName = String((template.Parameters as Record<string, { Default: string }>).SecretName?.Default);
  const deployment = {
    parameters: { Database: db },
    secrets: {
      [secretName]: {
        mongodbUri: componentEnv({ db }).MONGODB_URI as string,
        apiKeys: JSON.stringify([publisher.entry]),
      },
    },
  };
  return Object.fromEntries(
    Object.entries(variables).map(([k, v]) => [k, evaluate(template, v, deployment)]),
  );
}
const bearer = { authorization: `Bearer ${publisher.key}` };
let bundles: BuiltBundles;
let lambda: LambdaProcess;
let tailer: Component;
let subscriber: Subscriber;

beforeAll(async () => {
  bundles = await buildToTemp();
  tailer = await startTailer({ db });
  // As deployed (authentication on), with the test suite's small bus and quiet logs added.
  const suite = componentEnv({ db });
  const testing = Object.fromEntries(
    ["TAILCAST_LOG_LEVEL", "TAILCAST_BUS_SIZE_BYTES", "TAILCAST_BUS_MAX_DOCS"].map((k) => [
      k,
      suite[k] ?? "",
    ]),
  );
  lambda = startLambdaProcess({
    bundle: bundles.file("functions/lambda.mjs"),
    env: { ...templateEnv(), ...testing },
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
    expect(again.pool).toEqual(LAMBDA_POOL);
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

describe("infra/aws/template.yaml", () => {
  it("points at the Lambda bundle: CodeUri is the build's functions directory, Handler its handler export", () => {
    const lambdaBundle = BUNDLES.find((b) => b.name === "functions-lambda");
    expect(lambdaBundle).toBeDefined();
    const out = lambdaBundle?.out ?? "";
    expect(resolve(dirname(TEMPLATE_PATH), String(fnProps.CodeUri))).toBe(
      join(REPO_ROOT, "dist", dirname(out)),
    );
    const [file, exported] = String(fnProps.Handler).split(".");
    expect(`${file}.mjs`).toBe(basename(out));
    const meta = bundles.metafiles["functions-lambda"] as Metafile;
    expect(Object.values(meta.outputs).find((o) => o.entryPoint)?.exports).toContain(exported);
    expect(template.Globals).toMatchObject({ Function: { Runtime: "nodejs20.x", Architectures: ["arm64"] } });
  });

  it("names only variables the code reads, and each is in the README's configuration table", () => {
    const variables = Object.keys((fnProps.Environment as { Variables: Record<string, unknown> }).Variables);
    expect(variables).toEqual(expect.arrayContaining(["MONGODB_URI", "TAILCAST_API_KEYS", "TAILCAST_DB"]));
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const read = envNamesRead("functions");
    for (const name of variables) {
      expect(read, name).toContain(name);
      expect(readme, name).toMatch(new RegExp(`^\\| \`${name}\`(?: / [^|]*)? \\|`, "m"));
    }
  });

  it("serves the function through an HTTP API with payload 2.0 and a function URL", () => {
    const events = Object.values(
      fnProps.Events as Record<string, { Type: string; Properties: Record<string, unknown> }>,
    );
    expect(events).toContainEqual({
      Type: "HttpApi",
      Properties: expect.objectContaining({ PayloadFormatVersion: "2.0", Method: "ANY" }),
    });
    expect(fnProps.FunctionUrlConfig).toMatchObject({ AuthType: "NONE" });
    // SAM names the generated AWS::Lambda::Url resource after the function: <logical id>Url.
    const fnId = Object.keys(resources).find((id) => resources[id] === fn);
    expect((template.Outputs as Record<string, { Value: unknown }>).FunctionUrl?.Value).toEqual({
      "Fn::GetAtt": [`${fnId}Url`, "FunctionUrl"],
    });
  });
});
