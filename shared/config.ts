/**
 * Configuration of the components: read from the environment once at start (shared/env.ts), validated
 * as a whole, then passed down as plain typed objects. Credentials are read the same way beside their
 * code (shared/auth/). Every variable is listed with its default in the README's config table.
 */
import { hostname } from "node:os";
import { z } from "zod";
import { type AdminAccess, loadAdminAccess } from "./auth/admin-token.ts";
import { type BusConfig, loadBusConfig, loadBusSet } from "./bus/config.ts";
import { configError, type Env, int, list, port, readEnv } from "./env.ts";
import type { LogFormat, LogLevel } from "./log.ts";
import { defaultMessageLimits, type MessageLimits } from "./message.ts";

/** Requests per second; may be fractional (0.1 is one every 10 s). */
const perSecond = z.coerce.number<string>().positive().max(1_000_000);

/**
 * A node's name when TAILCAST_NODE_ID is not set: its role, host and port, so two processes of a fleet
 * differ unless they share host and port — and one restarted there takes its old entry on the status page.
 * The same name is in its log lines (`node`) and its heartbeat (README "Status page").
 */
export const defaultNodeId = (role: "functions" | "tailer", port: number): string =>
  `${role}-${hostname()}-${port}`;

/** A rate's burst, when not configured: twice the rate, and at least 1. */
const twice = (rate: number) => Math.max(1, Math.ceil(2 * rate));

const limitsSchema = z.object({
  TAILCAST_MAX_BODY_BYTES: int(1024).default(1024 * 1024),
  TAILCAST_MAX_MESSAGE_BYTES: int(16, 8 * 1024 * 1024).default(defaultMessageLimits.maxMessageBytes),
  TAILCAST_MAX_BATCH: int(1, 10_000).default(defaultMessageLimits.maxBatch),
  TAILCAST_MAX_CHANNEL_LENGTH: int(1, 1024).default(defaultMessageLimits.maxChannelLength),
  TAILCAST_MAX_EVENT_LENGTH: int(1, 256).default(defaultMessageLimits.maxEventLength),
  TAILCAST_MAX_DEPTH: int(1, 1000).default(defaultMessageLimits.maxDepth),
});

const serverSchema = z.object({
  HOST: z.string().default("0.0.0.0"),
  // Fleet heartbeat interval (shared/fleet/heartbeat.ts): how fresh the status page is.
  TAILCAST_HEARTBEAT_MS: int(100, 600_000).default(5000),
});

const metricsSchema = z.object({
  TAILCAST_METRICS_PORT: port().optional(),
  // Sent as a Bearer credential (shared/auth/bearer.ts), which holds no white space.
  TAILCAST_METRICS_TOKEN: z
    .string()
    .regex(/^\S+$/, "must not contain white space (it is sent as a Bearer credential)")
    .optional(),
});

/** Where and how /metrics is served (shared/metrics/expose.ts). */
export interface MetricsConfig {
  /** Serve /metrics on this port instead of the main one; undefined: on the main port. */
  port: number | undefined;
  /** Bearer token /metrics requires; undefined: open. */
  token: string | undefined;
}

/** The metrics endpoint's settings; its own port must differ from the component's main `port`. */
export function loadMetricsConfig(env: Env, mainPort: number): MetricsConfig {
  const m = readEnv(metricsSchema, env);
  if (m.TAILCAST_METRICS_PORT !== undefined && m.TAILCAST_METRICS_PORT === mainPort) {
    throw configError(
      "TAILCAST_METRICS_PORT",
      "must differ from PORT (leave it unset to serve /metrics on PORT)",
    );
  }
  return { port: m.TAILCAST_METRICS_PORT, token: m.TAILCAST_METRICS_TOKEN };
}

export interface IngestConfig {
  host: string;
  port: number;
  /** The process's name in logs and on the status page (TAILCAST_NODE_ID, else defaultNodeId). */
  nodeId: string;
  /** Bus 0: the single bus unless TAILCAST_BUSES says more. */
  bus: BusConfig;
  /** Every bus, in order (loadBusSet); a channel lives in buses[busIndexOf(channel, buses.length)]. */
  buses: BusConfig[];
  limits: MessageLimits;
  maxBodyBytes: number;
  corsOrigins: string[];
  /** How long an Idempotency-Key is remembered (G7). */
  idempotencyWindowSec: number;
  /** Longest time a publish may spend in the writer, queue included (shared/bus/append.ts). */
  appendTimeoutMs: number;
  /** Messages waiting for the writer beyond which a publish is refused with 503. */
  writerQueueMax: number;
  /** After SIGTERM, the process exits by then (functions/drain.ts). */
  drainTimeoutMs: number;
  /** Publishes per second (and burst) for API keys configured without a rate of their own. */
  publishRate: { perSecond: number; burst: number };
  /** History reads per second (and burst) per subscriber-token subject. */
  historyRate: { perSecond: number; burst: number };
  metrics: MetricsConfig;
  /** How often the process writes its fleet heartbeat (the status page). */
  heartbeatMs: number;
}

export interface TailerConfig {
  host: string;
  port: number;
  /** Bus 0: the single bus unless TAILCAST_BUSES says more. */
  bus: BusConfig;
  /** Every bus, in order (loadBusSet); a channel lives in buses[busIndexOf(channel, buses.length)]. */
  buses: BusConfig[];
  limits: MessageLimits;
  /** The node's name in logs, /stats and on the status page (TAILCAST_NODE_ID, else defaultNodeId). */
  nodeId: string;
  ingestUrl: string;
  allowedOrigins: string[];
  awaitMs: number;
  batchSize: number;
  /** Recent messages kept in memory for client recovery (G4). */
  recoveryWindow: number;
  /** Most bytes (of the messages' JSON) that window keeps. */
  recoveryWindowBytes: number;
  lagIntervalMs: number;
  wsHeartbeatMs: number;
  maxSubscriptions: number;
  /** Other tailer nodes, for the demo page's client to fail over to. */
  peerUrls: string[];
  /** 0: no limit. */
  maxConnectionsPerIp: number;
  /** Subscribes per second (and burst) per connection, and per token subject across its connections. */
  subscribeRate: { perSecond: number; burst: number };
  /** Who may use the operator endpoints: POST /admin/drain, /status (shared/auth/admin-token.ts). */
  admin: AdminAccess;
  drain: DrainConfig;
  metrics: MetricsConfig;
  /** How often the node writes its fleet heartbeat (the status page). */
  heartbeatMs: number;
  /** Most bytes waiting to be sent to one connection before it is cut as a slow consumer. */
  maxPendingBytes: number;
  /** Several buses: a bus's tail closes this long after its last subscriber left (tailer/buses.ts). */
  tailIdleMs: number;
  presence: PresenceConfig;
}

/** The node's presence aggregates (README "Presence"; tailer/presence-writer.ts). */
export interface PresenceConfig {
  /** How often the node writes its per-channel counts, batched. */
  intervalMs: number;
  /** Whether the documents (and replies) list the subscribers' token subjects. */
  subjects: boolean;
}

/** The graceful drain (README "Drain"; tailer/drain.ts). */
export interface DrainConfig {
  /** Clients are told to move spread evenly over this many milliseconds. */
  windowMs: number;
  /** The process has exited before this many milliseconds after the drain began. */
  timeoutMs: number;
}

/** Both halves drain on SIGTERM and have exited before this. */
const drainTimeoutMs = int(100, 3_600_000).default(30_000);

const drainSchema = z
  .object({
    TAILCAST_DRAIN_WINDOW_MS: int(0, 3_600_000).default(10_000),
    TAILCAST_DRAIN_TIMEOUT_MS: drainTimeoutMs,
  })
  .refine((d) => d.TAILCAST_DRAIN_WINDOW_MS < d.TAILCAST_DRAIN_TIMEOUT_MS, {
    message:
      "must be less than TAILCAST_DRAIN_TIMEOUT_MS (clients are told to move before the process exits)",
    path: ["TAILCAST_DRAIN_WINDOW_MS"],
  });

export function loadDrainConfig(env: Env = process.env): DrainConfig {
  const d = readEnv(drainSchema, env);
  return { windowMs: d.TAILCAST_DRAIN_WINDOW_MS, timeoutMs: d.TAILCAST_DRAIN_TIMEOUT_MS };
}

const logSchema = z.object({
  TAILCAST_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  TAILCAST_LOG_FORMAT: z.enum(["json", "pretty", "text"]).default("json"),
});

export interface LogConfig {
  level: LogLevel;
  format: LogFormat;
}

export function loadLogConfig(env: Env = process.env): LogConfig {
  const l = readEnv(logSchema, env);
  return { level: l.TAILCAST_LOG_LEVEL, format: l.TAILCAST_LOG_FORMAT };
}

function loadLimits(env: Env): MessageLimits & { maxBodyBytes: number } {
  const l = readEnv(limitsSchema, env);
  return {
    maxChannelLength: l.TAILCAST_MAX_CHANNEL_LENGTH,
    maxEventLength: l.TAILCAST_MAX_EVENT_LENGTH,
    maxMessageBytes: l.TAILCAST_MAX_MESSAGE_BYTES,
    maxBatch: l.TAILCAST_MAX_BATCH,
    maxDepth: l.TAILCAST_MAX_DEPTH,
    maxBodyBytes: l.TAILCAST_MAX_BODY_BYTES,
  };
}

export function loadIngestConfig(env: Env = process.env): IngestConfig {
  const s = readEnv(
    serverSchema.extend({
      PORT: int(0, 65535).default(8080),
      TAILCAST_NODE_ID: z.string().min(1).max(100).optional(),
      TAILCAST_CORS_ORIGINS: list.default([]),
      TAILCAST_IDEMPOTENCY_WINDOW_SEC: int(1, 30 * 86400).default(86400),
      TAILCAST_APPEND_TIMEOUT_MS: int(100, 600_000).default(10_000),
      TAILCAST_WRITER_QUEUE_MAX: int(1, 10_000_000).default(10_000),
      TAILCAST_DRAIN_TIMEOUT_MS: drainTimeoutMs,
      TAILCAST_PUBLISH_RATE: int(1, 1_000_000).default(100),
      TAILCAST_PUBLISH_BURST: int(1, 1_000_000).optional(),
      TAILCAST_HISTORY_RATE: perSecond.default(10),
      TAILCAST_HISTORY_BURST: int(1, 1_000_000).optional(),
    }),
    env,
  );
  const { maxBodyBytes, ...limits } = loadLimits(env);
  return {
    host: s.HOST,
    port: s.PORT,
    nodeId: s.TAILCAST_NODE_ID ?? defaultNodeId("functions", s.PORT),
    bus: loadBusConfig(env),
    buses: loadBusSet(env),
    limits,
    maxBodyBytes,
    corsOrigins: s.TAILCAST_CORS_ORIGINS,
    idempotencyWindowSec: s.TAILCAST_IDEMPOTENCY_WINDOW_SEC,
    appendTimeoutMs: s.TAILCAST_APPEND_TIMEOUT_MS,
    writerQueueMax: s.TAILCAST_WRITER_QUEUE_MAX,
    drainTimeoutMs: s.TAILCAST_DRAIN_TIMEOUT_MS,
    publishRate: {
      perSecond: s.TAILCAST_PUBLISH_RATE,
      burst: s.TAILCAST_PUBLISH_BURST ?? 2 * s.TAILCAST_PUBLISH_RATE,
    },
    historyRate: {
      perSecond: s.TAILCAST_HISTORY_RATE,
      burst: s.TAILCAST_HISTORY_BURST ?? twice(s.TAILCAST_HISTORY_RATE),
    },
    metrics: loadMetricsConfig(env, s.PORT),
    heartbeatMs: s.TAILCAST_HEARTBEAT_MS,
  };
}

export function loadTailerConfig(env: Env = process.env): TailerConfig {
  const s = readEnv(
    serverSchema.extend({
      PORT: int(0, 65535).default(8081),
      TAILCAST_NODE_ID: z.string().min(1).max(100).optional(),
      TAILCAST_INGEST_URL: z.url().default("http://localhost:8080"),
      TAILCAST_ALLOWED_ORIGINS: list.default([]),
      TAILCAST_TAIL_AWAIT_MS: int(10, 60_000).default(1000),
      TAILCAST_TAIL_BATCH: int(1, 10_000).default(1000),
      TAILCAST_RECOVERY_WINDOW: int(0, 1_000_000).default(10_000),
      TAILCAST_RECOVERY_WINDOW_BYTES: int(0, 2 ** 40).default(64 * 1024 * 1024),
      TAILCAST_LAG_INTERVAL_MS: int(100, 60_000).default(1000),
      TAILCAST_WS_HEARTBEAT_MS: int(100, 600_000).default(25_000),
      TAILCAST_MAX_SUBSCRIPTIONS: int(1, 100_000).default(100),
      TAILCAST_PEER_URLS: list.pipe(z.array(z.url())).default([]),
      TAILCAST_MAX_CONNECTIONS_PER_IP: int(0, 1_000_000).default(0),
      TAILCAST_SUBSCRIBE_RATE: perSecond.default(10),
      TAILCAST_SUBSCRIBE_BURST: int(1, 1_000_000).optional(),
      TAILCAST_MAX_PENDING_BYTES: int(1024, 2 ** 40).default(1024 * 1024),
      TAILCAST_TAIL_IDLE_MS: int(0, 86_400_000).default(30_000),
      TAILCAST_PRESENCE_INTERVAL_MS: int(100, 600_000).default(5000),
      TAILCAST_PRESENCE_SUBJECTS: z
        .string()
        .trim()
        .toLowerCase()
        .pipe(z.enum(["on", "off"], { error: 'must be "on" or "off" (the default).' }))
        .default("off"),
    }),
    env,
  );
  const { maxBodyBytes: _unused, ...limits } = loadLimits(env);
  // One message must fit with room to spare, or every subscriber would be cut by the first large one.
  if (s.TAILCAST_MAX_PENDING_BYTES < 2 * limits.maxMessageBytes) {
    throw configError(
      "TAILCAST_MAX_PENDING_BYTES",
      `must be at least twice TAILCAST_MAX_MESSAGE_BYTES (${2 * limits.maxMessageBytes})`,
    );
  }
  return {
    host: s.HOST,
    port: s.PORT,
    bus: loadBusConfig(env),
    buses: loadBusSet(env),
    limits,
    nodeId: s.TAILCAST_NODE_ID ?? defaultNodeId("tailer", s.PORT),
    ingestUrl: s.TAILCAST_INGEST_URL,
    allowedOrigins: s.TAILCAST_ALLOWED_ORIGINS,
    awaitMs: s.TAILCAST_TAIL_AWAIT_MS,
    batchSize: s.TAILCAST_TAIL_BATCH,
    recoveryWindow: s.TAILCAST_RECOVERY_WINDOW,
    recoveryWindowBytes: s.TAILCAST_RECOVERY_WINDOW_BYTES,
    lagIntervalMs: s.TAILCAST_LAG_INTERVAL_MS,
    wsHeartbeatMs: s.TAILCAST_WS_HEARTBEAT_MS,
    maxSubscriptions: s.TAILCAST_MAX_SUBSCRIPTIONS,
    peerUrls: s.TAILCAST_PEER_URLS,
    maxConnectionsPerIp: s.TAILCAST_MAX_CONNECTIONS_PER_IP,
    subscribeRate: {
      perSecond: s.TAILCAST_SUBSCRIBE_RATE,
      // A reconnecting client resubscribes every channel it holds at once.
      burst:
        s.TAILCAST_SUBSCRIBE_BURST ??
        Math.max(s.TAILCAST_MAX_SUBSCRIPTIONS, twice(s.TAILCAST_SUBSCRIBE_RATE)),
    },
    admin: loadAdminAccess(env),
    drain: loadDrainConfig(env),
    metrics: loadMetricsConfig(env, s.PORT),
    heartbeatMs: s.TAILCAST_HEARTBEAT_MS,
    maxPendingBytes: s.TAILCAST_MAX_PENDING_BYTES,
    tailIdleMs: s.TAILCAST_TAIL_IDLE_MS,
    presence: {
      intervalMs: s.TAILCAST_PRESENCE_INTERVAL_MS,
      subjects: s.TAILCAST_PRESENCE_SUBJECTS === "on",
    },
  };
}
