/**
 * Configuration of the bus set (README "Configuration" and "Scaling out"): where each bus lives and how
 * it is written. Read once at start like the rest of the configuration (shared/config.ts).
 */
import { z } from "zod";
import { configError, type Env, int, list, readEnv } from "../env.ts";
import { busCollectionName } from "./partition.ts";

/** Where `npm run devdb` listens by default. */
export const DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27017/";

const writeConcern = z
  .string()
  .regex(
    /^(majority|[1-9]\d*)$/,
    'must be "majority" or a number of nodes (at least 1: an unacknowledged write cannot be a 201)',
  )
  .transform((s) => (s === "majority" ? ("majority" as const) : Number(s)));

const busSchema = z.object({
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, "must be a mongodb:// or mongodb+srv:// URI")
    .default(DEFAULT_MONGODB_URI),
  TAILCAST_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/)
    .default("tailcast"),
  TAILCAST_BUS_COLLECTION: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,100}$/)
    .default("bus"),
  TAILCAST_BUS_SIZE_BYTES: int(4096).default(64 * 1024 * 1024),
  TAILCAST_BUS_MAX_DOCS: int(1).default(100_000),
  TAILCAST_WRITE_CONCERN: writeConcern.default("majority"),
  TAILCAST_WRITE_TIMEOUT_MS: int(1).default(5000),
});

export interface BusConfig {
  mongodbUri: string;
  db: string;
  collection: string;
  sizeBytes: number;
  maxDocs: number;
  writeConcern: "majority" | number;
  writeTimeoutMs: number;
}

const busSetSchema = z.object({
  TAILCAST_BUSES: int(1, 64).default(1),
  TAILCAST_BUS_URIS: list
    .pipe(z.array(z.string().regex(/^mongodb(\+srv)?:\/\//, "must be mongodb:// or mongodb+srv:// URIs")))
    .optional(),
});

/**
 * The buses, in order (README "Scaling out"): TAILCAST_BUSES capped collections, bus i named by
 * busCollectionName (bus 0 is TAILCAST_BUS_COLLECTION, unchanged), each on MONGODB_URI or on the i-th
 * of TAILCAST_BUS_URIS. One bus, the default, is exactly the single-bus configuration.
 */
export function loadBusSet(env: Env = process.env): BusConfig[] {
  const base = loadBusConfig(env);
  const { TAILCAST_BUSES: n, TAILCAST_BUS_URIS: uris } = readEnv(busSetSchema, env);
  if (uris !== undefined && uris.length !== n) {
    throw configError(
      "TAILCAST_BUS_URIS",
      `must list one URI per bus (TAILCAST_BUSES=${n}), got ${uris.length}`,
    );
  }
  return Array.from({ length: n }, (_, i) => ({
    ...base,
    mongodbUri: uris?.[i] ?? base.mongodbUri,
    collection: busCollectionName(base.collection, i),
  }));
}

export function loadBusConfig(env: Env = process.env): BusConfig {
  const b = readEnv(busSchema, env);
  return {
    mongodbUri: b.MONGODB_URI,
    db: b.TAILCAST_DB,
    collection: b.TAILCAST_BUS_COLLECTION,
    sizeBytes: b.TAILCAST_BUS_SIZE_BYTES,
    maxDocs: b.TAILCAST_BUS_MAX_DOCS,
    writeConcern: b.TAILCAST_WRITE_CONCERN,
    writeTimeoutMs: b.TAILCAST_WRITE_TIMEOUT_MS,
  };
}
