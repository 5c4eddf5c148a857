/**
 * A publisher straight into a partitioned bus set, for tailer tests that must not depend on the ingest
 * process: the same bus set a component opens from the same environment (shared/bus/config.ts loadBusSet,
 * shared/bus/bus-set.ts), and one BusWriter per bus, each message to its channel's bus.
 */

import { type Appended, BusWriter } from "../../shared/bus/append.ts";
import type { BusHandle, BusSet } from "../../shared/bus/bus-set.ts";
import { openBusSet } from "../../shared/bus/bus-set.ts";
import { loadBusSet } from "../../shared/bus/config.ts";
import { busIndexOf } from "../../shared/bus/partition.ts";
import { createLogger } from "../../shared/log.ts";

export interface BusSetWriter {
  readonly set: BusSet;
  /** The bus `channel` lives in. */
  busOf(channel: string): BusHandle;
  publish(channel: string, data: unknown, event?: string): Promise<Appended>;
  close(): Promise<void>;
}

export function busSetWriter(env: Record<string, string>): BusSetWriter {
  const set = openBusSet(loadBusSet(env), "bus-set-writer-test", createLogger("test", { write: () => {} }));
  const writers = set.buses.map(
    (bus) =>
      new BusWriter(bus.collection, {
        writeConcern: { w: 1, wtimeoutMS: 5000 },
        maxDocsPerInsert: 100,
        maxAttempts: 100,
        timeoutMs: 10_000,
        maxQueuedDocs: 10_000,
        resetBus: () => bus.collection.reset(),
      }),
  );
  return {
    set,
    busOf: (channel) => set.forChannel(channel),
    async publish(channel, data, event = "message") {
      const writer = writers[busIndexOf(channel, set.buses.length)] as BusWriter;
      const [appended] = await writer.append([{ channel, event, data: JSON.stringify(data) }]);
      return appended as Appended;
    },
    close: () => set.close(),
  };
}

/** A channel name (`<prefix>-<n>`) that lives in bus `index` of `buses`. */
export function channelIn(index: number, buses: number, prefix: string): string {
  for (let n = 0; ; n++) {
    const channel = `${prefix}-${n}`;
    if (busIndexOf(channel, buses) === index) return channel;
  }
}
