/**
 * The tailer's presence (README "Presence"): the in-memory tally the sessions keep, the writer that
 * batches it into `<bus 0>_presence`, the reader the `presence` request answers from, and the watch that
 * pushes presence updates after each write. The collection lives beside bus 0, on bus 0's deployment,
 * like the fleet heartbeats.
 */
import { serverClock } from "../shared/bus/server-clock.ts";
import type { PresenceConfig } from "../shared/config.ts";
import type { Logger } from "../shared/log.ts";
import type { MongoHandle } from "../shared/mongo.ts";
import {
  ensurePresence,
  type PresenceReader,
  presenceReader,
  readPresenceOf,
} from "../shared/presence/collection.ts";
import { PresenceTally } from "./presence-tally.ts";
import { PresenceWatch } from "./presence-watch.ts";
import { type PresenceWriter, startPresenceWriter } from "./presence-writer.ts";

export interface TailerPresenceDeps {
  config: PresenceConfig;
  nodeId: string;
  /** Bus 0's client. */
  mongo: MongoHandle;
  /** Bus 0's collection name: the presence collection is named after it. */
  bus0Collection: string;
  log: Logger;
}

export interface TailerPresence {
  tally: PresenceTally;
  read: PresenceReader;
  /** The channels watched for presence updates, told after each write. */
  watch: PresenceWatch;
  /** Starts writing, every `config.intervalMs`. */
  start(): void;
  /** Stops writing and removes this node's documents. Never rejects. */
  stop(): Promise<void>;
}

export function tailerPresence(deps: TailerPresenceDeps): TailerPresence {
  const clock = serverClock(() => deps.mongo.db());
  const now = () => clock.now();
  const presence = deps.mongo.cached((db) => ensurePresence(db, deps.bus0Collection, deps.log));
  const tally = new PresenceTally({ subjects: deps.config.subjects });
  const watch = new PresenceWatch({
    read: async (channels) => readPresenceOf(await presence(), channels, new Date(await now())),
    log: deps.log,
  });
  let writer: PresenceWriter | undefined;
  return {
    tally,
    read: presenceReader(presence, now),
    watch,
    start() {
      writer ??= startPresenceWriter(
        { nodeId: deps.nodeId, intervalMs: deps.config.intervalMs },
        { presence, now, tally, log: deps.log, afterRound: () => watch.round() },
      );
    },
    stop: async () => writer?.stop(),
  };
}
