/**
 * One MongoClient per process, created on first use and reused: warm serverless instances keep their
 * pool, and nothing connects at import time (the Hono app stays importable without a database).
 */
import { type Db, MongoClient, type MongoClientOptions } from "mongodb";
import { ignoreError } from "./promises.ts";

export interface MongoHandle {
  db(): Promise<Db>;
  close(): Promise<void>;
}

/**
 * How long an operation may wait to pick a server, and then for a free connection: with the writer's
 * own timeout (shared/bus/append.ts) these bound how long an append can take end to end.
 */
export const SERVER_SELECTION_TIMEOUT_MS = 5000;
export const WAIT_QUEUE_TIMEOUT_MS = 5000;

/** Connection-pool settings a runtime may choose (functions/lambda.ts); the driver's defaults otherwise. */
export type PoolOptions = Pick<MongoClientOptions, "maxPoolSize" | "minPoolSize" | "maxIdleTimeMS">;

export function createMongo(
  uri: string,
  dbName: string,
  appName: string,
  pool: PoolOptions = {},
): MongoHandle {
  let client: MongoClient | undefined;
  let connecting: Promise<MongoClient> | undefined;
  const connect = () => {
    connecting ??= (async () => {
      const c = new MongoClient(uri, {
        appName,
        serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
        waitQueueTimeoutMS: WAIT_QUEUE_TIMEOUT_MS,
        connectTimeoutMS: 5000,
        ...pool,
      });
      try {
        await c.connect();
        client = c;
        return c;
      } catch (err) {
        connecting = undefined;
        await c.close().catch(ignoreError); // the connect error is the one to report
        throw err;
      }
    })();
    return connecting;
  };
  return {
    db: async () => (client ?? (await connect())).db(dbName),
    close: async () => {
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      connecting = undefined;
      await c?.close();
    },
  };
}
