/**
 * What must hold for every response of the ingest API, whatever was sent (README "HTTP"), and what a 201
 * promised about the bus. The oracle is written independently of the product's own validation: it
 * models only routing (WHATWG URL normalization, one percent-decoding of the channel) and scopes.
 */
import { type AuthChoice, type FuzzRequest, PUBLISHING_AUTH } from "./fuzz-ingest-requests.ts";
import type { RawRequest, RawResult } from "./fuzz-pool.ts";

export interface Credentials {
  key: string;
  wrongScopeKey: string;
  jwtAll: string;
  jwtScoped: string;
  jwtForged: string;
  jwtExpired: string;
  unsignedJwt: string;
}

export function authorizationHeader(auth: AuthChoice, c: Credentials): string | undefined {
  switch (auth) {
    case "none":
      return undefined;
    case "valid":
      return `Bearer ${c.key}`;
    case "validLowercase":
      return `bearer ${c.key}`;
    case "validPadded":
      return `Bearer    ${c.key}   `;
    case "wrongScope":
      return `Bearer ${c.wrongScopeKey}`;
    case "keyPlusChar":
      return `Bearer ${c.key}x`;
    case "keyPrefixOnly":
      return "Bearer tc_";
    case "garbage":
      return "\u00ff\u00fe garbage ;;; \t";
    case "basic":
      return `Basic ${Buffer.from(`fuzz:${c.key}`).toString("base64")}`;
    case "bearerOnly":
      return "Bearer";
    case "otherScheme":
      return `Token ${c.key}`;
    case "hugeBearer":
      return `Bearer tc_${"A".repeat(4000)}`;
    case "jwtAll":
      return `Bearer ${c.jwtAll}`;
    case "jwtScoped":
      return `Bearer ${c.jwtScoped}`;
    case "jwtForged":
      return `Bearer ${c.jwtForged}`;
    case "jwtExpired":
      return `Bearer ${c.jwtExpired}`;
    case "unsignedJwt":
      return `Bearer ${c.unsignedJwt}`;
  }
}

export function toRaw(
  req: FuzzRequest,
  creds: Credentials,
  epoch: string,
  authorization = authorizationHeader(req.auth, creds),
): RawRequest {
  const headers: Record<string, string> = {};
  if (req.contentType !== null) headers["content-type"] = req.contentType;
  if (authorization !== undefined) headers.authorization = authorization;
  if (req.idempotencyKey !== null) headers["idempotency-key"] = req.idempotencyKey;
  return {
    method: req.method,
    path: req.path.replaceAll("{epoch}", epoch),
    headers,
    body: req.body,
    chunked: req.chunked,
  };
}

type Route =
  | { kind: "single"; channel: string }
  | { kind: "batch" }
  | { kind: "history"; channel: string }
  | null;

/** Where a request lands, as the server sees its URL (dot segments resolved, channel decoded once). */
export function routeOf(method: string, path: string): Route {
  let pathname: string;
  try {
    pathname = new URL(path, "http://127.0.0.1").pathname;
  } catch {
    return null;
  }
  if (pathname === "/v1/messages") return method === "POST" ? { kind: "batch" } : null;
  const m = /^\/v1\/channels\/([^/]+)\/messages$/.exec(pathname);
  if (!m) return null;
  let channel = m[1] as string;
  try {
    channel = decodeURIComponent(channel);
  } catch {
    // left as is, like the router does with a malformed escape
  }
  if (method === "POST") return { kind: "single", channel };
  if (method === "GET" || method === "HEAD") return { kind: "history", channel };
  return null;
}

export interface ExpectedMessage {
  channel: string;
  event: string;
  data: unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What the request asked to publish, read the way the server reads a body; null if not a publish. */
export function sentMessages(req: FuzzRequest): ExpectedMessage[] | null {
  const route = routeOf(req.method, req.path);
  if (req.body === null || (route?.kind !== "single" && route?.kind !== "batch")) return null;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(req.body));
  } catch {
    return null;
  }
  const one = (channel: unknown, m: unknown): ExpectedMessage | null =>
    isRecord(m) && typeof channel === "string" && Object.hasOwn(m, "data")
      ? { channel, event: typeof m.event === "string" ? m.event : "message", data: m.data }
      : null;
  if (route.kind === "single") {
    const m = one(route.channel, body);
    return m ? [m] : null;
  }
  if (!isRecord(body) || !Array.isArray(body.messages)) return null;
  const all = body.messages.map((m: unknown) => one(isRecord(m) ? m.channel : undefined, m));
  return all.every((m) => m !== null) ? (all as ExpectedMessage[]) : null;
}

/** Scope of the fuzz key, re-implemented here so the oracle does not share the product's matcher. */
export function scopeAllows(patterns: readonly string[], channel: string): boolean {
  return patterns.some((p) =>
    p.endsWith("*") ? channel.length > p.length - 1 && channel.startsWith(p.slice(0, -1)) : channel === p,
  );
}

/** JSON equality: numbers by `===` (so 0 and -0 agree, Infinity and null do not), key order included. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => jsonEqual(ra[k], rb[k]));
}

export interface CheckContext {
  secrets: string[];
  keyScope: readonly string[];
  /** The scope of the other (wrong-scope) key: it may publish there, and only there. */
  otherKeyScope: readonly string[];
  jwtScopedScope: readonly string[];
}

export interface Receipt {
  id: string;
  channel: string;
  offset: number;
  epoch: string;
}

function isReceipt(v: unknown): v is Receipt {
  return (
    isRecord(v) &&
    Object.keys(v).sort().join() === "channel,epoch,id,offset" &&
    typeof v.id === "string" &&
    typeof v.channel === "string" &&
    typeof v.epoch === "string" &&
    Number.isSafeInteger(v.offset) &&
    (v.offset as number) >= 0
  );
}

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const STACK = /\bat [^\n"]*\.ts:\d+/;

export interface Checked {
  problems: string[];
  /** For a 201: each published message with its receipt. */
  acknowledged: Array<{ expected: ExpectedMessage; receipt: Receipt }>;
}

/** Every property one response must have, as a list of problems (empty: fine). */
export function checkResponse(req: FuzzRequest, res: RawResult, ctx: CheckContext): Checked {
  const problems: string[] = [];
  const acknowledged: Checked["acknowledged"] = [];
  if (!res.ok) {
    const after =
      res.previousOnConnection === null ? "" : ` (connection reused after ${res.previousOnConnection})`;
    return { problems: [`no HTTP response: ${res.error}${after}`], acknowledged };
  }
  const { status } = res;
  const text = res.body.toString("utf8");
  if (!((status >= 200 && status < 300) || (status >= 400 && status < 500))) {
    problems.push(`status ${status} is neither 2xx nor 4xx`);
  }
  for (const secret of ctx.secrets) {
    if (text.includes(secret)) problems.push("the response body contains a credential");
  }
  if (req.method === "HEAD") return { problems, acknowledged };
  const type = String(res.headers["content-type"] ?? "");
  if (!/^application\/json\b/i.test(type))
    problems.push(`${status} with content-type ${JSON.stringify(type)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push(`${status} body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
    return { problems, acknowledged };
  }
  // History pages echo stored `data`, which may hold anything a publisher sent; judge the rest.
  const own = JSON.stringify(body, (k, v) => (k === "data" ? undefined : v));
  if (STACK.test(own)) problems.push(`body looks like a stack trace: ${own.slice(0, 300)}`);

  if (status >= 400) {
    const err = isRecord(body) ? body.error : undefined;
    const exact =
      isRecord(body) &&
      Object.keys(body).join() === "error" &&
      isRecord(err) &&
      Object.keys(err).sort().join() === "code,message" &&
      typeof err.code === "string" &&
      SNAKE.test(err.code) &&
      typeof err.message === "string" &&
      err.message.length > 0;
    if (!exact)
      problems.push(`error body is not exactly { error: { code, message } }: ${text.slice(0, 300)}`);
    if (status === 429 && !/^[1-9]\d*$/.test(String(res.headers["retry-after"] ?? ""))) {
      problems.push("429 without a positive integer Retry-After");
    }
    return { problems, acknowledged };
  }

  const route = routeOf(req.method, req.path);
  if (status === 201) {
    const expected = sentMessages(req);
    if (route?.kind !== "single" && route?.kind !== "batch")
      problems.push("201 from a route that is not a publish");
    const scope = PUBLISHING_AUTH.has(req.auth)
      ? ctx.keyScope
      : req.auth === "wrongScope"
        ? ctx.otherKeyScope
        : null;
    if (scope === null) problems.push(`201 without an API key (auth: ${req.auth})`);
    if (expected === null) {
      problems.push("201 for a body that is not a message the test can read");
      return { problems, acknowledged };
    }
    for (const m of expected) {
      if (scope !== null && !scopeAllows(scope, m.channel)) {
        problems.push(
          `201 for channel ${JSON.stringify(m.channel)} outside the key's scope (auth: ${req.auth})`,
        );
      }
    }
    const receipts = route?.kind === "batch" && isRecord(body) ? body.results : [body];
    const batchShape = route?.kind !== "batch" || (isRecord(body) && Object.keys(body).join() === "results");
    if (!batchShape || !Array.isArray(receipts) || !receipts.every(isReceipt)) {
      problems.push(`201 body is not the receipt shape: ${text.slice(0, 300)}`);
      return { problems, acknowledged };
    }
    if (receipts.length !== expected.length) {
      problems.push(`${receipts.length} receipts for ${expected.length} messages`);
      return { problems, acknowledged };
    }
    expected.forEach((m, i) => {
      const receipt = receipts[i] as Receipt;
      if (receipt.channel !== m.channel) {
        problems.push(
          `receipt channel ${JSON.stringify(receipt.channel)}, sent ${JSON.stringify(m.channel)}`,
        );
      }
      acknowledged.push({ expected: m, receipt });
    });
    return { problems, acknowledged };
  }

  if (route?.kind === "history" && status === 200) {
    const page =
      isRecord(body) &&
      Array.isArray(body.messages) &&
      typeof body.recovered === "boolean" &&
      typeof body.hasMore === "boolean";
    if (!page) problems.push(`history page has the wrong shape: ${text.slice(0, 300)}`);
    const byKey =
      (PUBLISHING_AUTH.has(req.auth) && scopeAllows(ctx.keyScope, route.channel)) ||
      (req.auth === "wrongScope" && scopeAllows(ctx.otherKeyScope, route.channel));
    const byToken =
      req.auth === "jwtAll" || (req.auth === "jwtScoped" && scopeAllows(ctx.jwtScopedScope, route.channel));
    if (!byKey && !byToken)
      problems.push(`history of ${JSON.stringify(route.channel)} read with auth ${req.auth}`);
    return { problems, acknowledged };
  }
  const pathname = URL.canParse(req.path, "http://x") ? new URL(req.path, "http://x").pathname : "";
  if (pathname !== "/healthz" && pathname !== "/readyz") {
    problems.push(`unexpected ${status} for ${req.method} ${req.path}`);
  }
  return { problems, acknowledged };
}

/** A failing request, readable and complete enough to replay by hand. */
export function describeRequest(req: FuzzRequest): string {
  const lines = [`${req.method} ${req.path}`];
  if (req.contentType !== null) lines.push(`content-type: ${JSON.stringify(req.contentType)}`);
  lines.push(`authorization: <${req.auth}>`);
  if (req.idempotencyKey !== null) {
    const k = req.idempotencyKey;
    lines.push(
      `idempotency-key: ${k.length > 80 ? `${JSON.stringify(k.slice(0, 40))}… (${k.length} chars)` : JSON.stringify(k)}`,
    );
  }
  if (req.chunked) lines.push("transfer-encoding: chunked");
  if (req.body !== null) {
    let shown: string;
    try {
      shown = JSON.stringify(new TextDecoder("utf-8", { fatal: true }).decode(req.body));
    } catch {
      shown = `hex ${Buffer.from(req.body).toString("hex")}`;
    }
    lines.push(
      `body (${req.body.byteLength} bytes): ${shown.length > 600 ? `${shown.slice(0, 600)}…` : shown}`,
    );
  }
  return lines.join("\n  ");
}
