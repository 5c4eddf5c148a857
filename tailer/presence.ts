/**
 * The tailer's presence (README "Presence"): the in-memory tally the sessions keep, the writer that
 * batches it into `<bus 0>_presence`, and the reader the `presence` request answers from. The
 * collection lives beside bus 0, on bus 0's deployment, like the fleet heartbeats.
 */
import type { Db } from "mongodb";
import { serverClock } from "../shared/bus/server-clock.ts";
import type { PresenceConfig } from "../shared/config.ts";
import { cachedUntilFailure } from "../shared/lazy.ts";
import type { Logger } from "../shared/log.ts";
import { ensurePresence, type PresenceReader, presenceReader } from "../shared/presence/collection.ts";
import { PresenceTally } from "./presence-tally.ts";
import { type PresenceWriter, startPresenceWriter } from "./presence-writer.ts";

export interface TailerPresenceDeps {
  config: PresenceConfig;
  nodeId: string;
  /** Bus 0's database. */
  db: () => Promise<Db>;
  /** Bus 0's collection name: the presence collection is named after it. */
  bus0Collection: string;
  log: Logger;
}

export interface TailerPresence {
  tally: PresenceTally;
  read: PresenceReader;
  /** Starts writing, every `config.intervalMs`. */
  start(): void;
  /** Stops writing and removes this node's documents. Never rejects. */
  stop(): Promise<void>;
}

export function tailerPresence(deps: TailerPresenceDeps): TailerPresence {
  const clock = serverClock(deps.db);
  const now = () => clock.now();
  const presence = cachedUntilFailure(async () =>
    ensurePresence(await deps.db(), deps.bus0Collection, deps.log),
  );
  const tally = new PresenceTally({ subjects: deps.config.subjects });
  let writer: PresenceWriter | undefined;
  return {
    tally,
    read: presenceReader(presence, now),
    start() {
      writer ??= startPresenceWriter(
        { nodeId: deps.nodeId, intervalMs: deps.config.intervalMs },
        { presence, now, tally, log: deps.log },
      );
    },
    stop: async () => writer?.stop(),
  };
}
