/** Real processes for integration tests: ingest functions and tailer nodes on free ports, one database per file. */
import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import { MongoClient } from "mongodb";
import { inject } from "vitest";
import { type Component, startComponent } from "../../infra/local/component.ts";

/** A database name of its own for each test file (and run). */
export function testDbName(file: string): string {
  const stem = basename(file)
    .replace(/\.test\.ts$/, "")
    .replace(/[^A-Za-z0-9]/g, "_");
  return `t_${stem}_${randomBytes(3).toString("hex")}`;
}

export interface StackOptions {
  uri?: string;
  db: string;
  env?: Record<string, string>;
  port?: number;
  /** Every line the process writes, as it comes (its `output()` keeps only the last ones). */
  onLine?: (line: string) => void;
}

export function componentEnv(opts: StackOptions): Record<string, string> {
  return {
    MONGODB_URI: opts.uri ?? inject("mongodbUri"),
    TAILCAST_DB: opts.db,
    TAILCAST_LOG_LEVEL: "warn",
    // JSON lines whatever the developer's environment says: helpers parse them (guarantees.ts).
    TAILCAST_LOG_FORMAT: "json",
    // Auth has its own tests (auth-*.test.ts); everything else runs with it off, as `npm start` does.
    TAILCAST_AUTH: "off",
    // Small buses keep FerretDB's cursor opens and bus reads cheap (docs/ferretdb.md); tests that need overflow shrink them further.
    TAILCAST_BUS_SIZE_BYTES: String(8 * 1024 * 1024),
    TAILCAST_BUS_MAX_DOCS: "50000",
    TAILCAST_TAIL_AWAIT_MS: "500",
    // stop() is a SIGTERM, which drains a tailer over this window (README "Drain"): keep teardown quick.
    TAILCAST_DRAIN_WINDOW_MS: "100",
    ...opts.env,
  };
}

export async function startFunctions(opts: StackOptions): Promise<Component> {
  const c = await startComponent({
    kind: "functions",
    env: componentEnv(opts),
    ...(opts.port ? { port: opts.port } : {}),
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
  });
  await c.ready();
  return c;
}

export async function startTailer(opts: StackOptions & { nodeId?: string }): Promise<Component> {
  const env = componentEnv(opts);
  if (opts.nodeId) env.TAILCAST_NODE_ID = opts.nodeId;
  const c = await startComponent({
    kind: "tailer",
    env,
    ...(opts.port ? { port: opts.port } : {}),
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
  });
  await c.ready();
  return c;
}

export interface Published {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Published> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

export function publish(
  ingest: Component,
  channel: string,
  data: unknown,
  event = "message",
): Promise<Published> {
  return post(`${ingest.url}/v1/channels/${encodeURIComponent(channel)}/messages`, { event, data });
}

/** A direct client on the test database, for assertions about what is stored. */
export async function withDb<T>(uri: string, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close();
  }
}

export async function stopAll(components: Array<Component | undefined>): Promise<void> {
  await Promise.allSettled(components.map((c) => c?.stop()));
}
