/**
 * The ingest Hono app through `app.request()`: no server, no database. The bus, writer and readiness
 * probe throw (or count calls), so every validation path is shown to answer before anything is written.
 */
import type { Hono } from "hono";
import { MongoNetworkError, MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { createIngestApp, type IngestAppDeps } from "../../functions/app.ts";
import type { IngestEnv } from "../../functions/env.ts";
import { compilePatterns } from "../../shared/auth/channel-patterns.ts";
import type { TokenVerifier } from "../../shared/auth/jwt.ts";
import type { Appended, BusWriter } from "../../shared/bus/append.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { createLogger } from "../../shared/log.ts";
import { defaultMessageLimits, type OutgoingMessage } from "../../shared/message.ts";
import { createRateLimiter } from "../../shared/rate-limit.ts";
import { realEpipe } from "../helpers/socket-errors.ts";

const MAX_BODY = 4096;
const ALLOWED_ORIGIN = "http://localhost:8081";

interface Harness {
  app: Hono<IngestEnv>;
  calls: { bus: number; writer: number; ready: number };
  logs: string[];
}

function harness(overrides: Partial<IngestAppDeps> = {}): Harness {
  const calls = { bus: 0, writer: 0, ready: 0 };
  const logs: string[] = [];
  const deps: IngestAppDeps = {
    bus: async () => {
      throw new Error("no db in unit tests");
    },
    writer: async () => {
      throw new Error("no db in unit tests");
    },
    idempotency: async () => {
      throw new Error("no db in unit tests");
    },
    ready: async () => {
      throw new Error("down");
    },
    limits: defaultMessageLimits,
    maxBodyBytes: MAX_BODY,
    corsOrigins: [ALLOWED_ORIGIN],
    auth: {
      publishers: "off",
      subscribers: undefined,
      limiter: createRateLimiter(),
      defaultRate: { perSecond: 100, burst: 200 },
      historyRate: { perSecond: 10, burst: 20 },
    },
    log: createLogger("test", { write: (line) => logs.push(line) }),
    ...overrides,
  };
  const counted: IngestAppDeps = {
    ...deps,
    bus: () => {
      calls.bus++;
      return deps.bus();
    },
    writer: () => {
      calls.writer++;
      return deps.writer();
    },
    ready: () => {
      calls.ready++;
      return deps.ready();
    },
  };
  return { app: createIngestApp(counted), calls, logs };
}

/**
 * A documented fake of BusWriter for the success paths only: it records what the route hands over
 * and answers like the bus would. The real writer is covered by integration tests.
 */
function recordingWriter(): { writer: BusWriter; appended: OutgoingMessage[][] } {
  const appended: OutgoingMessage[][] = [];
  let last = 41;
  const fake = {
    append: async (messages: OutgoingMessage[]): Promise<Appended[]> => {
      appended.push(messages);
      return messages.map((m) => {
        last++;
        return { id: `id-${last}`, channel: m.channel, offset: last, epoch: "e1", ts: new Date(0) };
      });
    },
  };
  return { writer: fake as unknown as BusWriter, appended };
}

const JSON_TYPE = { "content-type": "application/json" };

function post(
  app: Hono<IngestEnv>,
  path: string,
  body: BodyInit,
  headers: Record<string, string> = JSON_TYPE,
): Promise<Response> {
  return Promise.resolve(app.request(path, { method: "POST", headers, body }));
}

function get(app: Hono<IngestEnv>, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(app.request(path, { headers }));
}

const STACK_TEXT = /\bat\s+\S+\s*\(|\.ts:\d+|\.js:\d+|node_modules|Error:|\n\s+at\s/;

/** Asserts the one error shape (README "HTTP") and returns its contents. */
async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type") ?? "").toMatch(/^application\/json\b/);
  const text = await res.text();
  expect(text).not.toMatch(STACK_TEXT);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message"]);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

const channelPath = (channel: string) => `/v1/channels/${channel}/messages`;

describe("content type (415)", () => {
  it.each([
    ["no content-type", {}],
    ["text/plain", { "content-type": "text/plain" }],
    ["form", { "content-type": "application/x-www-form-urlencoded" }],
    ["application/jsonp", { "content-type": "application/jsonp" }],
    ["text/json", { "content-type": "text/json" }],
  ])("refuses %s on both POST routes before reading or writing", async (_label, headers) => {
    const h = harness();
    // A Uint8Array body keeps fetch from adding a text/plain content-type of its own.
    const body = new TextEncoder().encode('{"data":1,"messages":[{"channel":"a","data":1}]}');
    await expectError(await post(h.app, channelPath("chat"), body, headers), 415, "unsupported_media_type");
    await expectError(await post(h.app, "/v1/messages", body, headers), 415, "unsupported_media_type");
    expect(h.calls.writer).toBe(0);
  });

  it("refuses a string body sent without an explicit type (fetch labels it text/plain)", async () => {
    const h = harness();
    await expectError(
      await post(h.app, channelPath("chat"), '{"data":1}', {}),
      415,
      "unsupported_media_type",
    );
  });

  it.each(["application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"])(
    "accepts %j (and goes on to validate the body)",
    async (type) => {
      const h = harness();
      await expectError(
        await post(h.app, channelPath("chat"), "{}", { "content-type": type }),
        400,
        "missing_data",
      );
    },
  );
});

describe("body size (413 body_too_large)", () => {
  const bodyOf = (bytes: number) => {
    const prefix = '{"data":"';
    const text = `${prefix}${"x".repeat(bytes - prefix.length - 2)}"}`;
    expect(Buffer.byteLength(text)).toBe(bytes);
    return text;
  };

  it("refuses a body over the limit, streamed without Content-Length", async () => {
    const h = harness();
    const err = await expectError(
      await post(h.app, channelPath("chat"), bodyOf(5000)),
      413,
      "body_too_large",
    );
    expect(err.message).toContain(String(MAX_BODY));
    expect(h.calls.writer).toBe(0);
  });

  it("refuses a body over the limit announced by Content-Length", async () => {
    const h = harness();
    const body = bodyOf(5000);
    const res = await post(h.app, channelPath("chat"), body, { ...JSON_TYPE, "content-length": "5000" });
    await expectError(res, 413, "body_too_large");
    expect(h.calls.writer).toBe(0);
  });

  it("refuses an oversized batch body too", async () => {
    const h = harness();
    const body = JSON.stringify({ messages: [{ channel: "a", data: "x".repeat(MAX_BODY) }] });
    await expectError(await post(h.app, "/v1/messages", body), 413, "body_too_large");
    expect(h.calls.writer).toBe(0);
  });

  it("accepts exactly maxBodyBytes and refuses one byte more", async () => {
    const { writer } = recordingWriter();
    const h = harness({ writer: async () => writer });
    expect((await post(h.app, channelPath("chat"), bodyOf(MAX_BODY))).status).toBe(201);
    await expectError(await post(h.app, channelPath("chat"), bodyOf(MAX_BODY + 1)), 413, "body_too_large");
    expect(h.calls.writer).toBe(1);
  });

  it("counts bytes, not characters", async () => {
    const h = harness();
    // 2100 × "é" is 2100 characters but 4200 bytes.
    const body = `{"data":"${"é".repeat(2100)}"}`;
    expect(body.length).toBeLessThan(MAX_BODY);
    await expectError(await post(h.app, channelPath("chat"), body), 413, "body_too_large");
  });
});

describe("POST /v1/channels/{channel}/messages validation (before any write)", () => {
  it.each(["{", "", "{'data':1}", "undefined", '{"data":1}}', "\u0000"])(
    "400 invalid_json for %j",
    async (body) => {
      const h = harness();
      await expectError(await post(h.app, channelPath("chat"), body), 400, "invalid_json");
      expect(h.calls.writer).toBe(0);
    },
  );

  it.each(["[]", '[{"data":1}]', '"string"', "42", "null", "true"])(
    "400 invalid_body for %s",
    async (body) => {
      const h = harness();
      await expectError(await post(h.app, channelPath("chat"), body), 400, "invalid_body");
      expect(h.calls.writer).toBe(0);
    },
  );

  it.each([
    ["$where", "%24where"],
    ["a/b", "a%2Fb"],
    ["../x", "..%2Fx"],
    ["*", "%2A"],
    ["space", "a%20b"],
    ["newline", "chat%0A"],
    ["NUL", "chat%00"],
    ["unicode", "%E2%98%83"],
    ["malformed escape", "%E0%A4%A"],
    ["leading -", "-x"],
    ["200 chars", "c".repeat(200)],
    ["129 chars", "c".repeat(129)],
  ])("400 invalid_channel for %s", async (_label, encoded) => {
    const h = harness();
    await expectError(await post(h.app, channelPath(encoded), '{"data":1}'), 400, "invalid_channel");
    expect(h.calls.writer).toBe(0);
  });

  it("accepts a 128-character channel (it reaches the writer)", async () => {
    const { writer, appended } = recordingWriter();
    const h = harness({ writer: async () => writer });
    const channel = "c".repeat(128);
    expect((await post(h.app, channelPath(channel), '{"data":1}')).status).toBe(201);
    expect(appended[0]?.[0]?.channel).toBe(channel);
  });

  it.each([
    ["number", '{"event":5,"data":1}'],
    ["empty", '{"event":"","data":1}'],
    ["leading digit", '{"event":"1x","data":1}'],
    ["space", '{"event":"a b","data":1}'],
    ["too long", JSON.stringify({ event: `e${"x".repeat(64)}`, data: 1 })],
  ])("400 invalid_event for %s", async (_label, body) => {
    const h = harness();
    await expectError(await post(h.app, channelPath("chat"), body), 400, "invalid_event");
    expect(h.calls.writer).toBe(0);
  });

  it.each(["connect", "disconnect", "error", "subscribe"])("400 reserved_event for %s", async (event) => {
    const h = harness();
    const err = await expectError(
      await post(h.app, channelPath("chat"), JSON.stringify({ event, data: 1 })),
      400,
      "reserved_event",
    );
    expect(err.message).toContain(event);
    expect(h.calls.writer).toBe(0);
  });

  it.each(["{}", '{"event":"chat"}', '{"Data":1}'])("400 missing_data for %s", async (body) => {
    const h = harness();
    await expectError(await post(h.app, channelPath("chat"), body), 400, "missing_data");
    expect(h.calls.writer).toBe(0);
  });

  it("400 invalid_data for data nested deeper than the limit", async () => {
    const h = harness();
    const depth = defaultMessageLimits.maxDepth + 1;
    const body = `{"data":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    await expectError(await post(h.app, channelPath("chat"), body), 400, "invalid_data");
    expect(h.calls.writer).toBe(0);
  });

  it("413 message_too_large when data exceeds maxMessageBytes within the body limit", async () => {
    const h = harness({ limits: { ...defaultMessageLimits, maxMessageBytes: 100 } });
    const body = JSON.stringify({ data: "x".repeat(200) });
    await expectError(await post(h.app, channelPath("chat"), body), 413, "message_too_large");
    expect(h.calls.writer).toBe(0);
  });

  it("404 for an empty channel segment", async () => {
    const h = harness();
    await expectError(await post(h.app, "/v1/channels//messages", '{"data":1}'), 404, "not_found");
  });
});

describe("POST /v1/messages validation (the whole batch, before any write)", () => {
  const msg = (channel: string, extra: Record<string, unknown> = {}) => ({ channel, data: 1, ...extra });

  it.each([
    ["array body", "[]"],
    ["string body", '"x"'],
    ["no messages", "{}"],
    ["messages not an array", '{"messages":{"channel":"a","data":1}}'],
    ["empty batch", '{"messages":[]}'],
  ])("400 invalid_body for %s", async (_label, body) => {
    const h = harness();
    await expectError(await post(h.app, "/v1/messages", body), 400, "invalid_body");
    expect(h.calls.writer).toBe(0);
  });

  it("400 invalid_json for a malformed batch", async () => {
    const h = harness();
    await expectError(await post(h.app, "/v1/messages", '{"messages":['), 400, "invalid_json");
  });

  it("413 batch_too_large over maxBatch", async () => {
    const h = harness();
    const messages = Array.from({ length: defaultMessageLimits.maxBatch + 1 }, () => msg("a"));
    const body = JSON.stringify({ messages });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_BODY);
    await expectError(await post(h.app, "/v1/messages", body), 413, "batch_too_large");
    expect(h.calls.writer).toBe(0);
  });

  it.each([
    ["bad channel", msg("$where"), "invalid_channel"],
    ["reserved event", msg("a", { event: "connect" }), "reserved_event"],
    ["missing data", { channel: "a" }, "missing_data"],
    ["not an object", 7, "invalid_body"],
  ])("one bad message (%s) rejects the batch, naming its index", async (_label, bad, code) => {
    const h = harness();
    const body = JSON.stringify({ messages: [msg("a"), msg("b"), bad, msg("c")] });
    const err = await expectError(await post(h.app, "/v1/messages", body), 400, code);
    expect(err.message.startsWith("messages[2]: ")).toBe(true);
    expect(h.calls.writer).toBe(0);
  });
});

describe("GET /v1/channels/{channel}/messages query validation (before touching the bus)", () => {
  it.each([
    ["since=-1", "since=-1&epoch=e1"],
    ["since=1.5", "since=1.5&epoch=e1"],
    ["since=abc", "since=abc&epoch=e1"],
    ["since unsafe", "since=9007199254740992&epoch=e1"],
    ["since empty", "since=&epoch=e1"],
    ["limit=0", "limit=0"],
    ["limit=5000", "limit=5000"],
    ["limit=-1", "limit=-1"],
    ["limit=abc", "limit=abc"],
    ["since without epoch", "since=5"],
    ["epoch without since", "epoch=e1"],
    ["bad epoch", "since=5&epoch=e%24"],
    ["epoch too long", `since=5&epoch=${"e".repeat(65)}`],
  ])("400 invalid_query for %s", async (_label, query) => {
    const h = harness();
    await expectError(await get(h.app, `${channelPath("chat")}?${query}`), 400, "invalid_query");
    expect(h.calls.bus).toBe(0);
  });

  it.each(["%24where", "a%2Fb", "c".repeat(200)])("400 invalid_channel for %s", async (encoded) => {
    const h = harness();
    await expectError(await get(h.app, channelPath(encoded)), 400, "invalid_channel");
    expect(h.calls.bus).toBe(0);
  });

  it("a valid query reaches the bus (whose failure is then a generic 500)", async () => {
    const h = harness();
    await expectError(
      await get(h.app, `${channelPath("chat")}?since=0&epoch=e1&limit=1000`),
      500,
      "internal_error",
    );
    expect(h.calls.bus).toBe(1);
  });

  it("a bus that is down answers 503 with Retry-After", async () => {
    const h = harness({
      bus: async () => {
        throw new MongoNetworkError("connect ECONNREFUSED 10.0.0.3:27017");
      },
    });
    const res = await get(h.app, channelPath("chat"));
    expect(res.headers.get("retry-after")).toBe("1");
    const err = await expectError(res, 503, "bus_unavailable");
    expect(err.message).not.toContain("10.0.0.3");
  });
});

describe("history reads with a subscriber token are rate-limited per token subject", () => {
  /** Tokens are their subject's name; every subject may read every channel. */
  const tokens: TokenVerifier = {
    async verify(token) {
      if (typeof token !== "string") throw new TailcastError(ErrorCode.unauthorized, "Invalid token.");
      return { sub: token, channels: compilePatterns(["*"]), expiresAt: Date.now() + 600_000 };
    },
  };
  const noKeys = {
    ids: [],
    verify: () => {
      throw new TailcastError(ErrorCode.unauthorized, "Invalid key.");
    },
  };

  it("429 rate_limited with Retry-After past the subject's burst; other subjects are not affected", async () => {
    let now = 1_000_000;
    const h = harness({
      auth: {
        publishers: noKeys,
        subscribers: tokens,
        limiter: createRateLimiter({ clock: () => now }),
        defaultRate: { perSecond: 100, burst: 200 },
        historyRate: { perSecond: 0.5, burst: 2 },
      },
    });
    const read = (sub: string) => get(h.app, channelPath("chat"), { authorization: `Bearer ${sub}` });
    // Allowed reads reach the bus (which fails in unit tests: 500).
    for (let i = 0; i < 2; i++) expect((await read("alice")).status).toBe(500);
    const limited = await read("alice");
    expect(limited.headers.get("retry-after")).toBe("2");
    await expectError(limited, 429, "rate_limited");
    expect(h.calls.bus).toBe(2);
    expect((await read("bob")).status).toBe(500);
    now += 2000;
    expect((await read("alice")).status).toBe(500);
    expect(h.calls.bus).toBe(4);
  });
});

describe("routes that do not exist", () => {
  it.each([
    ["GET", "/"],
    ["GET", "/nope"],
    ["GET", "/v1/messages"],
    ["PUT", "/v1/channels/chat/messages"],
    ["DELETE", "/v1/channels/chat/messages"],
    ["GET", "/v2/channels/chat/messages"],
  ])("%s %s → 404 JSON", async (method, path) => {
    const h = harness();
    const res = await h.app.request(path, { method });
    await expectError(res, 404, "not_found");
  });
});

describe("health", () => {
  it("/healthz answers 200 without touching the bus", async () => {
    const h = harness();
    const res = await get(h.app, "/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(h.calls).toEqual({ bus: 0, writer: 0, ready: 0 });
  });

  it("/readyz answers 503 bus_unavailable with Retry-After when ready() throws", async () => {
    const h = harness();
    const res = await get(h.app, "/readyz");
    expect(res.headers.get("retry-after")).toBe("1");
    const err = await expectError(res, 503, "bus_unavailable");
    expect(err.message).not.toContain("down");
    expect(h.calls.ready).toBe(1);
  });

  it("/readyz answers 200 when ready() resolves", async () => {
    const h = harness({ ready: async () => {} });
    const res = await get(h.app, "/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});

describe("failures of the write itself", () => {
  const valid = '{"event":"chat","data":{"text":"hi"}}';

  it("a MongoNetworkError from the writer becomes 503 with Retry-After, hiding the driver message", async () => {
    const h = harness({
      writer: async () => {
        throw new MongoNetworkError("connection 7 to 10.0.0.3:27017 closed");
      },
    });
    const res = await post(h.app, channelPath("chat"), valid);
    expect(res.headers.get("retry-after")).toBe("1");
    const err = await expectError(res, 503, "bus_unavailable");
    expect(err.message).not.toContain("10.0.0.3");
  });

  it("a socket error the driver let out unwrapped (EPIPE) becomes 503 too, not 500", async () => {
    const epipe = await realEpipe();
    const h = harness({
      writer: async () => {
        throw epipe;
      },
    });
    const res = await post(h.app, channelPath("chat"), valid);
    expect(res.headers.get("retry-after")).toBe("1");
    await expectError(res, 503, "bus_unavailable");
  });

  it("a driver error from append() becomes 503 too", async () => {
    const failing = {
      append: async () => {
        throw new MongoServerError({ code: 91, errmsg: "The server is in quiesce mode and will shut down" });
      },
    } as unknown as BusWriter;
    const h = harness({ writer: async () => failing });
    const res = await post(h.app, "/v1/messages", JSON.stringify({ messages: [{ channel: "a", data: 1 }] }));
    expect(res.headers.get("retry-after")).toBe("1");
    const err = await expectError(res, 503, "bus_unavailable");
    expect(err.message).not.toContain("quiesce");
  });

  it("a TailcastError from append() keeps its code and Retry-After", async () => {
    const busy = {
      append: async () => {
        throw new TailcastError(ErrorCode.busUnavailable, "The bus is too busy.", { retryAfter: 3 });
      },
    } as unknown as BusWriter;
    const h = harness({ writer: async () => busy });
    const res = await post(h.app, channelPath("chat"), valid);
    expect(res.headers.get("retry-after")).toBe("3");
    await expectError(res, 503, "bus_unavailable");
  });

  it("a plain Error becomes 500 internal_error with a generic message, and is logged", async () => {
    const h = harness({
      writer: async () => {
        throw new Error("secret detail at /srv/functions/x.ts:12");
      },
    });
    const res = await post(h.app, channelPath("chat"), valid);
    expect(res.headers.get("retry-after")).toBeNull();
    const err = await expectError(res, 500, "internal_error");
    expect(err.message).toBe("Internal error.");
    const logged = h.logs.map((line) => JSON.parse(line)).find((r) => r.msg === "unhandled error");
    expect(logged).toMatchObject({ level: "error", requestId: res.headers.get("x-request-id") });
    expect(logged.err).toMatchObject({ type: "Error", message: "secret detail at /srv/functions/x.ts:12" });
  });
});

describe("request ids", () => {
  const debugHarness = (overrides: Partial<IngestAppDeps> = {}) => {
    const lines: string[] = [];
    const log = createLogger("test", { level: "debug", format: "json", write: (l) => lines.push(l) });
    const h = harness({ log, ...overrides });
    return { ...h, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
  };

  it("a sane X-Request-Id is kept, echoed and on the request's log line", async () => {
    const h = debugHarness();
    const res = await get(h.app, "/healthz", { "x-request-id": "lb-7f3a_9=" });
    expect(res.headers.get("x-request-id")).toBe("lb-7f3a_9=");
    expect(h.records()).toEqual([
      expect.objectContaining({
        msg: "request",
        requestId: "lb-7f3a_9=",
        method: "GET",
        path: "/healthz",
        status: 200,
      }),
    ]);
  });

  it("a missing, too long or odd X-Request-Id is replaced by a new UUID, one per request", async () => {
    const h = debugHarness();
    const given = [undefined, "x".repeat(129), "a b", "<script>", "x/../y"];
    const ids: string[] = [];
    for (const id of given) {
      const res = await get(h.app, "/nowhere", id === undefined ? {} : { "x-request-id": id });
      ids.push(res.headers.get("x-request-id") ?? "");
    }
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(given.length);
    expect(h.records().map((r) => [r.requestId, r.status])).toEqual(ids.map((id) => [id, 404]));
  });

  it("every line of a failing request carries its id (the error and the request line)", async () => {
    const h = debugHarness({
      writer: async () => {
        throw new MongoNetworkError("connection reset");
      },
    });
    const res = await post(h.app, channelPath("chat"), '{"data":1}', {
      ...JSON_TYPE,
      "x-request-id": "req-1",
    });
    expect(res.status).toBe(503);
    expect(h.records().map((r) => [r.msg, r.requestId, r.status])).toEqual([
      ["bus write failed", "req-1", undefined],
      ["request", "req-1", 503],
    ]);
  });
});

describe("draining (functions/drain.ts)", () => {
  it("answers everything but /healthz 503 node_draining with Retry-After, before auth or any write", async () => {
    let draining = false;
    const { writer, appended } = recordingWriter();
    const h = harness({
      writer: async () => writer,
      ready: async () => {},
      draining: () => draining,
      auth: {
        publishers: { ids: ["k"], verify: () => null } as unknown as IngestAppDeps["auth"]["publishers"],
        subscribers: undefined,
        limiter: createRateLimiter(),
        defaultRate: { perSecond: 100, burst: 200 },
        historyRate: { perSecond: 10, burst: 20 },
      },
    });
    expect((await get(h.app, "/readyz")).status).toBe(200);
    draining = true;
    for (const res of [
      await get(h.app, "/readyz"),
      await post(h.app, channelPath("chat"), '{"data":1}'),
      await post(h.app, "/v1/messages", '{"messages":[]}'),
      await get(h.app, channelPath("chat")),
    ]) {
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("x-request-id")).not.toBeNull();
      await expectError(res, 503, "node_draining");
    }
    expect((await get(h.app, "/healthz")).status).toBe(200);
    expect(appended).toEqual([]);
    expect(h.calls.ready).toBe(1);
  });
});

describe("successful writes (with a recording fake writer)", () => {
  it("201 with exactly { id, channel, offset, epoch }, handing validated messages to the writer", async () => {
    const { writer, appended } = recordingWriter();
    const h = harness({ writer: async () => writer });
    const res = await post(h.app, channelPath("chat:room-1"), '{"data":{"$where":"x","__proto__":{"a":1}}}');
    expect(res.status).toBe(201);
    expect(await res.json()).toStrictEqual({ id: "id-42", channel: "chat:room-1", offset: 42, epoch: "e1" });
    expect(appended).toEqual([
      [{ channel: "chat:room-1", event: "message", data: '{"$where":"x","__proto__":{"a":1}}' }],
    ]);
  });

  it("201 with one result per batch message, in order", async () => {
    const { writer, appended } = recordingWriter();
    const h = harness({ writer: async () => writer });
    const body = JSON.stringify({
      messages: [
        { channel: "a", data: 1 },
        { channel: "b", event: "chat", data: null },
      ],
    });
    const res = await post(h.app, "/v1/messages", body);
    expect(res.status).toBe(201);
    expect(await res.json()).toStrictEqual({
      results: [
        { id: "id-42", channel: "a", offset: 42, epoch: "e1" },
        { id: "id-43", channel: "b", offset: 43, epoch: "e1" },
      ],
    });
    expect(appended).toHaveLength(1);
    expect(appended[0]).toEqual([
      { channel: "a", event: "message", data: "1" },
      { channel: "b", event: "chat", data: "null" },
    ]);
  });
});

describe("CORS", () => {
  const preflight = (app: Hono<IngestEnv>, origin: string) =>
    app.request("/v1/channels/chat/messages", {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,idempotency-key",
      },
    });

  it("a preflight from the allowed origin gets access-control-allow-origin", async () => {
    const h = harness();
    const res = await preflight(h.app, ALLOWED_ORIGIN);
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(res.headers.get("access-control-allow-methods") ?? "").toContain("POST");
    expect((res.headers.get("access-control-allow-headers") ?? "").toLowerCase()).toContain("content-type");
    expect(h.calls.writer).toBe(0);
  });

  it("a preflight from another origin does not", async () => {
    const h = harness();
    for (const origin of ["http://evil.example", "http://localhost:8081.evil.example", "null"]) {
      const res = await preflight(h.app, origin);
      expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
    }
  });

  it("error responses to the allowed origin are readable by the browser", async () => {
    const h = harness();
    const res = await get(h.app, `${channelPath("chat")}?limit=0`, { origin: ALLOWED_ORIGIN });
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    await expectError(res, 400, "invalid_query");
  });

  it("no CORS headers at all when no origin is configured", async () => {
    const h = harness({ corsOrigins: [] });
    const res = await preflight(h.app, ALLOWED_ORIGIN);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
