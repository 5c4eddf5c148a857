import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { DEFAULT_MONGODB_URI, loadBusConfig } from "../../shared/bus/config.ts";
import { loadIngestConfig, loadLogConfig, loadTailerConfig } from "../../shared/config.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { defaultMessageLimits } from "../../shared/message.ts";

type Env = Record<string, string | undefined>;

/** The TailcastError a loader throws for `env`; fails the test if it loads. */
function configError(load: (env: Env) => unknown, env: Env): TailcastError {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(TailcastError);
    return err as TailcastError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

function expectRefused(load: (env: Env) => unknown, env: Env, variable: string) {
  const err = configError(load, env);
  expect(err.code).toBe(ErrorCode.invalidConfig);
  expect(err.message).toContain(variable);
}

const loaders = [
  ["loadBusConfig", loadBusConfig],
  ["loadIngestConfig", loadIngestConfig],
  ["loadTailerConfig", loadTailerConfig],
] as const;

describe("defaults from an empty environment", () => {
  it("loadBusConfig", () => {
    expect(loadBusConfig({})).toEqual({
      mongodbUri: DEFAULT_MONGODB_URI,
      db: "tailcast",
      collection: "bus",
      sizeBytes: 64 * 1024 * 1024,
      maxDocs: 100_000,
      writeConcern: "majority",
      writeTimeoutMs: 5000,
    });
    expect(DEFAULT_MONGODB_URI).toBe("mongodb://127.0.0.1:27017/");
  });

  it("loadIngestConfig serves on 8080 with the default limits and no CORS origins", () => {
    expect(loadIngestConfig({})).toEqual({
      host: "0.0.0.0",
      port: 8080,
      nodeId: `functions-${hostname()}-8080`,
      bus: loadBusConfig({}),
      buses: [loadBusConfig({})],
      limits: { ...defaultMessageLimits },
      maxBodyBytes: 1024 * 1024,
      corsOrigins: [],
      idempotencyWindowSec: 86400,
      appendTimeoutMs: 10_000,
      writerQueueMax: 10_000,
      drainTimeoutMs: 30_000,
      publishRate: { perSecond: 100, burst: 200 },
      historyRate: { perSecond: 10, burst: 20 },
      metrics: { port: undefined, token: undefined },
      heartbeatMs: 5000,
    });
  });

  it("loadTailerConfig serves on 8081 and names the node after its host and port", () => {
    expect(loadTailerConfig({})).toEqual({
      host: "0.0.0.0",
      port: 8081,
      bus: loadBusConfig({}),
      buses: [loadBusConfig({})],
      limits: { ...defaultMessageLimits },
      nodeId: `tailer-${hostname()}-8081`,
      ingestUrl: "http://localhost:8080",
      allowedOrigins: [],
      awaitMs: 1000,
      batchSize: 1000,
      recoveryWindow: 10_000,
      recoveryWindowBytes: 64 * 1024 * 1024,
      lagIntervalMs: 1000,
      wsHeartbeatMs: 25_000,
      maxSubscriptions: 100,
      peerUrls: [],
      maxConnectionsPerIp: 0,
      // The burst lets a reconnecting client resubscribe all it may hold at once.
      subscribeRate: { perSecond: 10, burst: 100 },
      admin: { kind: "closed" },
      drain: { windowMs: 10_000, timeoutMs: 30_000 },
      metrics: { port: undefined, token: undefined },
      heartbeatMs: 5000,
      maxPendingBytes: 1024 * 1024,
      tailIdleMs: 30_000,
      presence: { intervalMs: 5000, subjects: false },
    });
  });

  it("does not expose maxBodyBytes inside the tailer's message limits", () => {
    expect(Object.keys(loadTailerConfig({}).limits).sort()).toEqual(Object.keys(defaultMessageLimits).sort());
  });
});

describe("overrides", () => {
  it("bus settings", () => {
    expect(
      loadBusConfig({
        MONGODB_URI: "mongodb+srv://user:pw@cluster0.example.net/?retryWrites=true",
        TAILCAST_DB: "tc_test-1",
        TAILCAST_BUS_COLLECTION: "bus_2",
        TAILCAST_BUS_SIZE_BYTES: "4096",
        TAILCAST_BUS_MAX_DOCS: "10",
        TAILCAST_WRITE_CONCERN: "1",
        TAILCAST_WRITE_TIMEOUT_MS: "250",
      }),
    ).toEqual({
      mongodbUri: "mongodb+srv://user:pw@cluster0.example.net/?retryWrites=true",
      db: "tc_test-1",
      collection: "bus_2",
      sizeBytes: 4096,
      maxDocs: 10,
      writeConcern: 1,
      writeTimeoutMs: 250,
    });
  });

  it("ingest server, limits and bus together", () => {
    const config = loadIngestConfig({
      HOST: "127.0.0.1",
      PORT: "9090",
      MONGODB_URI: "mongodb://db:27017/",
      TAILCAST_MAX_BODY_BYTES: "2048",
      TAILCAST_MAX_MESSAGE_BYTES: "512",
      TAILCAST_MAX_BATCH: "5",
      TAILCAST_MAX_CHANNEL_LENGTH: "20",
      TAILCAST_MAX_EVENT_LENGTH: "10",
      TAILCAST_MAX_DEPTH: "4",
    });
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(9090);
    expect(config.bus.mongodbUri).toBe("mongodb://db:27017/");
    expect(config.maxBodyBytes).toBe(2048);
    expect(config.limits).toEqual({
      maxChannelLength: 20,
      maxEventLength: 10,
      maxMessageBytes: 512,
      maxBatch: 5,
      maxDepth: 4,
    });
  });

  it("tailer settings; PORT also renames the default node id", () => {
    const config = loadTailerConfig({
      PORT: "9000",
      TAILCAST_INGEST_URL: "https://ingest.example.com",
      TAILCAST_TAIL_AWAIT_MS: "50",
      TAILCAST_TAIL_BATCH: "1",
    });
    expect(config.port).toBe(9000);
    expect(config.nodeId).toBe(`tailer-${hostname()}-9000`);
    expect(config.ingestUrl).toBe("https://ingest.example.com");
    expect(config.awaitMs).toBe(50);
    expect(config.batchSize).toBe(1);
    expect(loadTailerConfig({ PORT: "9000", TAILCAST_NODE_ID: "edge-a" }).nodeId).toBe("edge-a");
  });

  it("ingest node id and drain timeout; PORT renames the default node id", () => {
    // The name its log lines and its heartbeat (the status page) both use.
    expect(loadIngestConfig({ PORT: "9000" }).nodeId).toBe(`functions-${hostname()}-9000`);
    expect(loadIngestConfig({ TAILCAST_NODE_ID: "ingest-a" }).nodeId).toBe("ingest-a");
    expect(loadIngestConfig({ TAILCAST_DRAIN_TIMEOUT_MS: "5000" }).drainTimeoutMs).toBe(5000);
    expectRefused(loadIngestConfig, { TAILCAST_DRAIN_TIMEOUT_MS: "50" }, "TAILCAST_DRAIN_TIMEOUT_MS");
  });

  it("log format: json by default, pretty (or its old name text) on request", () => {
    expect(loadLogConfig({})).toEqual({ level: "info", format: "json" });
    expect(loadLogConfig({ TAILCAST_LOG_FORMAT: "pretty" }).format).toBe("pretty");
    expect(loadLogConfig({ TAILCAST_LOG_FORMAT: "text" }).format).toBe("text");
    expectRefused(loadLogConfig, { TAILCAST_LOG_FORMAT: "xml" }, "TAILCAST_LOG_FORMAT");
  });

  it("PORT=0 is allowed when set explicitly (ephemeral port for tests)", () => {
    expect(loadIngestConfig({ PORT: "0" }).port).toBe(0);
  });

  it("ignores variables it does not know", () => {
    expect(loadIngestConfig({ UNRELATED: "x", PATH: "/usr/bin" })).toEqual(loadIngestConfig({}));
  });
});

describe("origin lists", () => {
  it("splits TAILCAST_CORS_ORIGINS on commas, trims and drops empty entries", () => {
    expect(loadIngestConfig({ TAILCAST_CORS_ORIGINS: "a, b,,c" }).corsOrigins).toEqual(["a", "b", "c"]);
    expect(
      loadIngestConfig({ TAILCAST_CORS_ORIGINS: " http://localhost:8081 ,https://app.example.com, " })
        .corsOrigins,
    ).toEqual(["http://localhost:8081", "https://app.example.com"]);
  });

  it("treats an empty or all-separator list as no origins", () => {
    expect(loadIngestConfig({ TAILCAST_CORS_ORIGINS: "" }).corsOrigins).toEqual([]);
    expect(loadIngestConfig({ TAILCAST_CORS_ORIGINS: " , ," }).corsOrigins).toEqual([]);
  });

  it("parses TAILCAST_ALLOWED_ORIGINS the same way for the tailer", () => {
    expect(loadTailerConfig({ TAILCAST_ALLOWED_ORIGINS: "a, b,,c" }).allowedOrigins).toEqual(["a", "b", "c"]);
  });
});

describe("request rates", () => {
  it("history and subscribe rates may be fractional; bursts default from them", () => {
    expect(loadIngestConfig({ TAILCAST_HISTORY_RATE: "0.2" }).historyRate).toEqual({
      perSecond: 0.2,
      burst: 1,
    });
    expect(
      loadIngestConfig({ TAILCAST_HISTORY_RATE: "50", TAILCAST_HISTORY_BURST: "7" }).historyRate,
    ).toEqual({
      perSecond: 50,
      burst: 7,
    });
    expect(loadTailerConfig({ TAILCAST_SUBSCRIBE_RATE: "200" }).subscribeRate).toEqual({
      perSecond: 200,
      burst: 400,
    });
    expect(
      loadTailerConfig({ TAILCAST_SUBSCRIBE_RATE: "0.5", TAILCAST_MAX_SUBSCRIPTIONS: "3" }).subscribeRate,
    ).toEqual({ perSecond: 0.5, burst: 3 });
    expect(loadTailerConfig({ TAILCAST_SUBSCRIBE_BURST: "5" }).subscribeRate).toEqual({
      perSecond: 10,
      burst: 5,
    });
  });

  it.each(["0", "-1", "abc", "Infinity", "2000000"])("refuses a rate of %j", (value) => {
    expectRefused(loadIngestConfig, { TAILCAST_HISTORY_RATE: value }, "TAILCAST_HISTORY_RATE");
    expectRefused(loadTailerConfig, { TAILCAST_SUBSCRIBE_RATE: value }, "TAILCAST_SUBSCRIBE_RATE");
  });

  it.each(["0", "1.5"])("refuses a burst of %j", (value) => {
    expectRefused(loadIngestConfig, { TAILCAST_HISTORY_BURST: value }, "TAILCAST_HISTORY_BURST");
    expectRefused(loadTailerConfig, { TAILCAST_SUBSCRIBE_BURST: value }, "TAILCAST_SUBSCRIBE_BURST");
  });
});

describe("slow-consumer bound", () => {
  it("takes TAILCAST_MAX_PENDING_BYTES in bytes", () => {
    expect(loadTailerConfig({ TAILCAST_MAX_PENDING_BYTES: "262144" }).maxPendingBytes).toBe(262_144);
  });

  it.each(["0", "-1", "1.5", "abc", "1023"])("refuses %j", (value) => {
    expectRefused(loadTailerConfig, { TAILCAST_MAX_PENDING_BYTES: value }, "TAILCAST_MAX_PENDING_BYTES");
  });

  it("refuses a bound that one message would fill (under twice TAILCAST_MAX_MESSAGE_BYTES)", () => {
    const env = { TAILCAST_MAX_MESSAGE_BYTES: "65536" };
    expectRefused(
      loadTailerConfig,
      { ...env, TAILCAST_MAX_PENDING_BYTES: "131071" },
      "TAILCAST_MAX_PENDING_BYTES",
    );
    expect(loadTailerConfig({ ...env, TAILCAST_MAX_PENDING_BYTES: "131072" }).maxPendingBytes).toBe(131_072);
    expectRefused(loadTailerConfig, { TAILCAST_MAX_MESSAGE_BYTES: "1048576" }, "TAILCAST_MAX_PENDING_BYTES");
  });
});

describe("write concern", () => {
  it('keeps "majority" as a string', () => {
    expect(loadBusConfig({ TAILCAST_WRITE_CONCERN: "majority" }).writeConcern).toBe("majority");
  });

  it("turns a node count into a number", () => {
    expect(loadBusConfig({ TAILCAST_WRITE_CONCERN: "2" }).writeConcern).toBe(2);
    expect(loadBusConfig({ TAILCAST_WRITE_CONCERN: "1" }).writeConcern).toBe(1);
  });

  it.each(["all", "Majority", "-1", "1.5", "2 nodes", " majority"])("refuses %j", (value) => {
    expectRefused(loadBusConfig, { TAILCAST_WRITE_CONCERN: value }, "TAILCAST_WRITE_CONCERN");
  });

  // w:0 is unacknowledged: insertMany would report neither the duplicate-key error that
  // shared/bus/append.ts relies on nor a failed write, so a 201 would mean nothing (G6).
  it('refuses "0" (unacknowledged writes would break G6)', () => {
    expectRefused(loadBusConfig, { TAILCAST_WRITE_CONCERN: "0" }, "TAILCAST_WRITE_CONCERN");
  });
});

describe("invalid values are refused with invalid_config naming the variable", () => {
  it.each([
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["TAILCAST_BUS_SIZE_BYTES", "10"],
    ["TAILCAST_BUS_SIZE_BYTES", "4095"],
    ["TAILCAST_BUS_MAX_DOCS", "0"],
    ["TAILCAST_WRITE_TIMEOUT_MS", "0"],
    ["TAILCAST_MAX_BODY_BYTES", "1023"],
    ["TAILCAST_MAX_MESSAGE_BYTES", "15"],
    ["TAILCAST_MAX_BATCH", "0"],
    ["TAILCAST_MAX_BATCH", "10001"],
    ["TAILCAST_MAX_CHANNEL_LENGTH", "0"],
    ["TAILCAST_MAX_DEPTH", "x"],
    ["TAILCAST_DB", "bad name"],
    ["TAILCAST_DB", "a.b"],
    ["TAILCAST_BUS_COLLECTION", "bus$"],
    ["TAILCAST_BUS_COLLECTION", "system.bus"],
    ["TAILCAST_HEARTBEAT_MS", "99"],
  ])("ingest: %s=%j", (variable, value) => {
    expectRefused(loadIngestConfig, { [variable]: value }, variable);
  });

  it.each([
    ["PORT", "abc"],
    ["TAILCAST_TAIL_AWAIT_MS", "5"],
    ["TAILCAST_TAIL_BATCH", "0"],
    ["TAILCAST_INGEST_URL", "not a url"],
    ["TAILCAST_BUS_SIZE_BYTES", "10"],
    ["TAILCAST_HEARTBEAT_MS", "0"],
    ["TAILCAST_HEARTBEAT_MS", "600001"],
  ])("tailer: %s=%j", (variable, value) => {
    expectRefused(loadTailerConfig, { [variable]: value }, variable);
  });

  it("is a TailcastError with status 500 (a deployment problem, not a client one)", () => {
    const err = configError(loadIngestConfig, { PORT: "abc" });
    expect(err.status).toBe(500);
    expect(err.name).toBe("TailcastError");
  });

  it("names every bad variable at once", () => {
    const err = configError(loadBusConfig, { TAILCAST_BUS_SIZE_BYTES: "10", TAILCAST_BUS_MAX_DOCS: "0" });
    expect(err.message).toContain("TAILCAST_BUS_SIZE_BYTES");
    expect(err.message).toContain("TAILCAST_BUS_MAX_DOCS");
  });

  // `PORT=${PORT}` in a compose file or shell gives "" when PORT is unset: that must mean "unset",
  // never port 0 (Number("") is 0).
  const serverLoaders: Array<[string, (env: Env) => { port: number }]> = [
    ["loadIngestConfig", loadIngestConfig],
    ["loadTailerConfig", loadTailerConfig],
  ];
  it.each(serverLoaders)("%s: an empty or blank value means unset, never port 0", (_name, load) => {
    expect(load({ PORT: "" }).port).toBe(load({}).port);
    expect(load({ PORT: "  " }).port).toBe(load({}).port);
    expect(loadTailerConfig({ TAILCAST_NODE_ID: "" }).nodeId).toBe(`tailer-${hostname()}-8081`);
    expect(loadBusConfig({ TAILCAST_WRITE_CONCERN: "" }).writeConcern).toBe("majority");
  });
});

describe("MONGODB_URI", () => {
  it.each([
    "mongodb://127.0.0.1:27017/",
    "mongodb://a:1,b:2/?replicaSet=rs0",
    "mongodb+srv://cluster0.example.net/",
  ])("accepts %j", (uri) => {
    expect(loadBusConfig({ MONGODB_URI: uri }).mongodbUri).toBe(uri);
  });

  it.each(["http://localhost:27017", "localhost:27017", "postgres://localhost/db", " mongodb://x/"])(
    "refuses %j in every loader",
    (uri) => {
      for (const [, load] of loaders) expectRefused(load, { MONGODB_URI: uri }, "MONGODB_URI");
    },
  );
});
