/**
 * The buses of a partitioned deployment, opened lazily (README "Scaling out"): one MongoClient per
 * distinct deployment (URI and database), shared by the buses on it, and each bus set up on first use
 * (ensureBus) and cached until it fails. With one bus this is exactly the single bus of before.
 */
import type { Collection } from "mongodb";
import type { Cached } from "../lazy.ts";
import type { Logger } from "../log.ts";
import { createMongo, type MongoHandle, type PoolOptions } from "../mongo.ts";
import { ensureBus } from "./collection.ts";
import type { BusConfig } from "./config.ts";
import type { BusDoc } from "./doc.ts";
import { busIndexOf } from "./partition.ts";

export interface BusHandle {
  /** The bus's position in the set: what busIndexOf returns for its channels. */
  index: number;
  config: BusConfig;
  /** The client of the deployment the bus lives on (shared with the other buses there). */
  mongo: MongoHandle;
  /** The bus, set up on first use; reset() after it was found dropped. */
  collection: Cached<Collection<BusDoc>>;
}

export interface BusSet {
  readonly buses: readonly BusHandle[];
  /** The bus `channel` lives in. */
  forChannel(channel: string): BusHandle;
  /** How many times the set's clients were replaced (shared/mongo.ts). */
  clientReplacements(): number;
  /** Closes every client. */
  close(): Promise<void>;
}

export function openBusSet(
  configs: readonly BusConfig[],
  appName: string,
  log: Logger,
  pool?: PoolOptions,
): BusSet {
  if (configs.length === 0) throw new RangeError("a bus set needs at least one bus");
  const clients = new Map<string, MongoHandle>();
  const buses = configs.map((config, index): BusHandle => {
    const key = `${config.mongodbUri}\u0000${config.db}`;
    let mongo = clients.get(key);
    if (mongo === undefined) {
      mongo = createMongo(config.mongodbUri, config.db, appName, { ...pool, log });
      clients.set(key, mongo);
    }
    const client = mongo;
    return {
      index,
      config,
      mongo: client,
      collection: client.cached((db) => ensureBus(db, config, log)),
    };
  });
  return {
    buses,
    forChannel: (channel) => buses[busIndexOf(channel, buses.length)] as BusHandle,
    clientReplacements: () => [...clients.values()].reduce((n, c) => n + c.replacements(), 0),
    close: async () => {
      await Promise.all([...clients.values()].map((c) => c.close()));
    },
  };
}
