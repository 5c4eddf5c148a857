/**
 * The built Lambda bundle (dist/functions/lambda.mjs) in a fresh plain `node` process, invoked the way
 * the Lambda runtime does: `handler(event, context)` per event, in one process for its whole life (a
 * warm instance). For the integration test (test/integration/lambda-bundle.test.ts) and the cold-start
 * measurement (infra/build/measure.ts).
 *
 * The child speaks JSON lines on file descriptor 3, so the app's own logs (stdout) stay apart. Per
 * invocation it reports the result, which MongoClient served it (an id per client object: the same id
 * means the client was reused), how many connections that client opened since, and how many TCP sockets
 * the process holds — the last also catches a handler that made clients of its own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

/** What runs in the child: plain JavaScript, no tsx, nothing but the bundle and Node. */
const DRIVER = `
import { writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
const send = (o) => writeSync(3, JSON.stringify(o) + "\\n");
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const booted = performance.now();
const mod = await import(pathToFileURL(process.env.TAILCAST_LAMBDA_BUNDLE).href);
const imported = performance.now();
let connectMs = null;
if (process.env.TAILCAST_LAMBDA_PRECONNECT === "1") {
  const t = performance.now();
  await mod.runtime.mongo.db();
  connectMs = performance.now() - t;
}
send({ ready: true, bootMs: booted, importMs: imported - booted, connectMs, cpuMs: cpuMs() });
let clients = 0;
const ids = new WeakMap();
const created = new WeakMap();
const clientOf = async () => {
  const client = (await mod.runtime.mongo.db()).client;
  if (!ids.has(client)) {
    ids.set(client, clients++);
    created.set(client, 0);
    client.on("connectionCreated", () => created.set(client, created.get(client) + 1));
  }
  return client;
};
for await (const line of createInterface({ input: process.stdin })) {
  const { id, event } = JSON.parse(line);
  const before = performance.now();
  const context = {
    awsRequestId: "req-" + id,
    functionName: "tailcast-ingest",
    functionVersion: "$LATEST",
    memoryLimitInMB: "512",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30000,
  };
  try {
    const result = await mod.handler(event, context);
    const handlerMs = performance.now() - before;
    const sinceStartMs = performance.now();
    const cpuSinceStartMs = cpuMs();
    const client = await clientOf();
    const tcpSockets = process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    const { maxPoolSize, minPoolSize, maxIdleTimeMS } = client.options;
    const pool = { maxPoolSize, minPoolSize, maxIdleTimeMS };
    send({ id, result, handlerMs, sinceStartMs, cpuSinceStartMs, clientId: ids.get(client), connectionsCreated: created.get(client), tcpSockets, pool });
  } catch (err) {
    send({ id, error: String((err && err.stack) || err) });
  }
}
`;

export interface LambdaEventV2 {
  version: "2.0";
  /** `$default` (a function URL, an HTTP API's default route), or the route matched: `ANY /{proxy+}`. */
  routeKey: string;
  rawPath: string;
  /** The route's path variables; a greedy one (`{proxy+}`) holds the rest of the path. */
  pathParameters?: Record<string, string>;
  body?: string | null;
  isBase64Encoded: boolean;
  headers: Record<string, string>;
  requestContext: { http: { method: string; path: string } } & Record<string, unknown>;
  [key: string]: unknown;
}

export interface LambdaRequest {
  method: string;
  /** Path and optional query string, as the client sent them. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body base64-encoded, as API Gateway and function URLs do for binary content types. */
  base64?: boolean;
}

/**
 * What a route with a greedy path variable (`ANY /{proxy+}`) puts in `pathParameters` for `path`: the
 * rest of the path after the route's prefix. Throws when the route would not match the path (API
 * Gateway would answer 404 without calling the function). `$default` routes carry no path variables.
 */
export function greedyPathParameters(routeKey: string, path: string): Record<string, string> | undefined {
  if (routeKey === "$default") return undefined;
  const m = /^[A-Z]+ (\/(?:[^{}]*\/)?)\{(\w+)\+\}$/.exec(routeKey);
  if (!m) throw new Error(`route ${routeKey}: only $default and greedy routes (…/{name+}) are modelled`);
  const [, prefix = "/", name = "proxy"] = m;
  const rest = path.startsWith(prefix) ? path.slice(prefix.length) : "";
  if (rest === "") throw new Error(`route ${routeKey} does not match the path ${path}`);
  return { [name]: rest };
}

/**
 * An event of `template`'s kind (test/fixtures/lambda/) for this request: method, path, query, headers
 * and body where the payload format 2.0 carries them (with the route's path variables), the rest of
 * the template as AWS sends it.
 */
export function lambdaEvent(template: LambdaEventV2, req: LambdaRequest): LambdaEventV2 {
  const event = structuredClone(template);
  const [path = "/", query = ""] = req.url.split("?", 2);
  const pathParameters = greedyPathParameters(template.routeKey, path);
  if (pathParameters) event.pathParameters = pathParameters;
  const body =
    req.body === undefined ? null : req.base64 ? Buffer.from(req.body).toString("base64") : req.body;
  event.rawPath = path;
  event.rawQueryString = query;
  event.requestContext.http.method = req.method;
  event.requestContext.http.path = path;
  event.requestContext.timeEpoch = Date.now();
  event.headers = {
    ...template.headers,
    // API Gateway and function URLs pass header names in lower case.
    ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    "content-length": String(req.body === undefined ? 0 : Buffer.byteLength(req.body)),
  };
  if (query) {
    const params: Record<string, string> = {};
    // Repeated parameters arrive joined with commas in payload format 2.0.
    for (const [k, v] of new URLSearchParams(query)) params[k] = k in params ? `${params[k]},${v}` : v;
    event.queryStringParameters = params;
  }
  event.body = body;
  event.isBase64Encoded = req.base64 === true;
  return event;
}

export interface LambdaResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
  cookies?: string[];
}

export interface Invocation {
  result: LambdaResult;
  handlerMs: number;
  /** Milliseconds from the process's start to the end of this invocation. */
  sinceStartMs: number;
  /** CPU time (user + system) the process used from its start to the end of this invocation. */
  cpuSinceStartMs: number;
  /** Same number on two invocations: the same MongoClient object served both. */
  clientId: number;
  /** Connections that client opened from the end of its first invocation to the end of this one. */
  connectionsCreated: number;
  /** TCP sockets the whole process holds open after this invocation (any client's, seen from outside the driver). */
  tcpSockets: number;
  /** The client's pool settings, as the driver resolved them. */
  pool: { maxPoolSize: number; minPoolSize: number; maxIdleTimeMS: number };
}

export interface Ready {
  bootMs: number;
  importMs: number;
  connectMs: number | null;
  /** CPU time the process used until then. */
  cpuMs: number;
}

export interface LambdaProcess {
  /** Node's own start-up, the bundle's import, and (with `preconnect`) the MongoClient's connect. */
  ready: Promise<Ready>;
  invoke(event: LambdaEventV2): Promise<Invocation>;
  output(): string[];
  close(): Promise<void>;
}

export interface LambdaProcessOptions {
  bundle: string;
  env: Record<string, string>;
  /** Connect the MongoClient before the first invocation, to time the connection on its own. */
  preconnect?: boolean;
}

export function startLambdaProcess(opts: LambdaProcessOptions): LambdaProcess {
  const child: ChildProcess = spawn(process.execPath, ["--input-type=module", "-e", DRIVER], {
    env: {
      PATH: process.env.PATH ?? "",
      ...opts.env,
      TAILCAST_LAMBDA_BUNDLE: opts.bundle,
      TAILCAST_LAMBDA_PRECONNECT: opts.preconnect ? "1" : "0",
    },
    stdio: ["pipe", "pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (stream: Readable | null) =>
    stream &&
    createInterface({ input: stream }).on("line", (l) => {
      lines.push(l);
      if (lines.length > 200) lines.shift();
    });
  keep(child.stdout);
  keep(child.stderr);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const failed = exited.then(() => {
    throw new Error(`the Lambda process exited:\n${lines.join("\n")}`);
  });
  failed.catch(() => undefined); // observed by whoever waits on it
  const pending = new Map<number, { resolve: (v: Invocation) => void; reject: (e: Error) => void }>();
  let ready: (v: Ready) => void = () => {};
  const readyPromise = new Promise<Ready>((resolve) => {
    ready = resolve;
  });
  createInterface({ input: child.stdio[3] as Readable }).on("line", (line) => {
    const msg = JSON.parse(line) as Record<string, unknown>;
    if (msg.ready) {
      ready(msg as never);
      return;
    }
    const waiter = pending.get(msg.id as number);
    pending.delete(msg.id as number);
    if (msg.error !== undefined) waiter?.reject(new Error(String(msg.error)));
    else waiter?.resolve(msg as unknown as Invocation);
  });
  let next = 0;
  return {
    ready: Promise.race([readyPromise, failed]),
    invoke(event) {
      const id = next++;
      const answer = new Promise<Invocation>((resolve, reject) => pending.set(id, { resolve, reject }));
      (child.stdin as Writable).write(`${JSON.stringify({ id, event })}\n`);
      return Promise.race([answer, failed]);
    },
    output: () => [...lines],
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        child.kill("SIGTERM");
      }
      await exited;
    },
  };
}
