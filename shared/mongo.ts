/**
 * One MongoClient per process, created on first use and reused: warm serverless instances keep their
 * pool, and nothing connects at import time (the Hono app stays importable without a database).
 *
 * The client is replaced when one of its server monitors stops checking (README "Known issues"): the
 * driver would otherwise keep failing server selection with the error of its last check, forever. What
 * callers built on the client (collections set up once) is made with `cached()`, so it is made again
 * on the new client.
 */
import { type Db, MongoClient, type MongoClientOptions } from "mongodb";
import { type Cached, cachedUntilFailure } from "./lazy.ts";
import type { Logger } from "./log.ts";
import { MonitorWatch, stuckCheckLimitMs } from "./monitor-watch.ts";
import { ignoreError } from "./promises.ts";

export interface MongoHandle {
  db(): Promise<Db>;
  /**
   * A value built on the client (a collection set up once), made on first use and shared; made again
   * after it failed or after the client was replaced.
   */
  cached<T>(make: (db: Db) => Promise<T>): Cached<T>;
  /** How many times the client was replaced because a monitor stopped checking. */
  replacements(): number;
  close(): Promise<void>;
}

/**
 * How long an operation may wait to pick a server, and then for a free connection: with the writer's
 * own timeout (shared/bus/append.ts) these bound how long an append can take end to end.
 */
export const SERVER_SELECTION_TIMEOUT_MS = 5000;
export const WAIT_QUEUE_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 5000;
/** The driver's default. */
const HEARTBEAT_FREQUENCY_MS = 10_000;

/** Connection-pool settings a runtime may choose (functions/lambda.ts); the driver's defaults otherwise. */
export type PoolOptions = Pick<MongoClientOptions, "maxPoolSize" | "minPoolSize" | "maxIdleTimeMS">;

export interface MongoOptions extends PoolOptions {
  /** Where a replacement of the client is reported. */
  log?: Logger;
  /** Monitor timings; tests shorten them. */
  heartbeatFrequencyMS?: number;
  connectTimeoutMS?: number;
  /** How long a check may stay open before the monitor counts as stuck; default from the timings. */
  stuckCheckMs?: number;
}

export function createMongo(
  uri: string,
  dbName: string,
  appName: string,
  options: MongoOptions = {},
): MongoHandle {
  const { log, stuckCheckMs, ...driver } = options;
  const limitMs =
    stuckCheckMs ??
    stuckCheckLimitMs(
      driver.heartbeatFrequencyMS ?? HEARTBEAT_FREQUENCY_MS,
      driver.connectTimeoutMS ?? CONNECT_TIMEOUT_MS,
    );
  const caches = new Set<Cached<unknown>>();
  let client: MongoClient | undefined;
  let connecting: Promise<MongoClient> | undefined;
  let replaced = 0;
  let unwatch = () => {};

  const replace = (stuck: MongoClient, servers: string[]) => {
    if (connecting === undefined || client !== stuck) return; // already replaced or closed
    replaced += 1;
    log?.warn("database client replaced: a server monitor stopped checking", { servers, limitMs, replaced });
    client = undefined;
    connecting = undefined;
    unwatch();
    for (const cache of caches) cache.reset();
    // Operations still on it fail as the topology closes (a transient error, shared/bus/errors.ts).
    stuck.close().catch(ignoreError);
  };

  const watch = (c: MongoClient) => {
    if (limitMs === undefined) return () => {};
    const checks = new MonitorWatch();
    c.on("serverHeartbeatStarted", (e) => checks.started(e.connectionId, performance.now()));
    c.on("serverHeartbeatSucceeded", (e) => checks.ended(e.connectionId));
    c.on("serverHeartbeatFailed", (e) => checks.ended(e.connectionId));
    c.on("serverClosed", (e) => checks.ended(e.address));
    const timer = setInterval(
      () => {
        const stuck = checks.stuck(performance.now(), limitMs);
        if (stuck.length > 0) replace(c, stuck);
      },
      Math.max(100, limitMs / 4),
    );
    timer.unref();
    return () => clearInterval(timer);
  };

  const connect = () => {
    connecting ??= (async () => {
      const c = new MongoClient(uri, {
        appName,
        serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
        waitQueueTimeoutMS: WAIT_QUEUE_TIMEOUT_MS,
        connectTimeoutMS: CONNECT_TIMEOUT_MS,
        ...driver,
      });
      try {
        await c.connect();
        client = c;
        unwatch = watch(c);
        return c;
      } catch (err) {
        connecting = undefined;
        await c.close().catch(ignoreError); // the connect error is the one to report
        throw err;
      }
    })();
    return connecting;
  };
  const db = async () => (client ?? (await connect())).db(dbName);

  return {
    db,
    cached: <T>(make: (db: Db) => Promise<T>) => {
      const cache = cachedUntilFailure(async () => make(await db()));
      caches.add(cache);
      return cache;
    },
    replacements: () => replaced,
    close: async () => {
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      connecting = undefined;
      unwatch();
      await c?.close();
    },
  };
}
