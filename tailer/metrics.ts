/**
 * Every metric a tailer node exports, in one place (README "Metrics"). What the node already keeps
 * (the tail's counters, recovery outcomes, lag, sessions) is read when Prometheus scrapes; only what
 * happens per message (fan-out, deliveries, latency) and slow-consumer cuts are counted as they happen.
 * No label holds a channel, a client or a connection id.
 */
import { Counter, Histogram } from "prom-client";
import type { Envelope } from "../shared/message.ts";
import { dbClientReplacements } from "../shared/metrics/db-clients.ts";
import {
  counterOf,
  createMetricsRegistry,
  gaugeOf,
  type Registry,
  single,
} from "../shared/metrics/registry.ts";
import type { BusReport } from "./buses.ts";
import type { Lag } from "./lag.ts";
import type { LiveStats } from "./live.ts";
import { RECOVERY_SOURCES } from "./recovery.ts";
import { type BusEnds, retentionSeconds } from "./retention.ts";

export const TRANSPORTS = ["socketio", "ws"] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** What the node's metrics read at scrape time; node.ts hands it over once everything exists. */
export interface TailerSources {
  live: { snapshot(): LiveStats };
  /** Every subscriber session of the node (tailer/sessions.ts). */
  sessions: Iterable<{ readonly channels: ReadonlySet<string> }>;
  connections(): Record<Transport, number>;
  /** What /readyz answers: 200 → true. */
  ready(): boolean;
  /** True while the node drains its clients before it stops. */
  draining(): boolean;
  /** Both ends of the bus; null when unknown (bus unreachable). */
  busEnds(): Promise<BusEnds | null>;
  /** What the node read from each bus (tailer/buses.ts). */
  buses?(): readonly BusReport[];
}

/** Seconds from the bus accepting a message (its `ts`) to the node sending it to its subscribers. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface TailerMetrics {
  readonly registry: Registry;
  /** The fan-out handed `envelope` to `deliveries` connections at `nowMs`. */
  delivered(envelope: Envelope, deliveries: number, nowMs?: number): void;
  /** A connection was cut for reading slower than its channels publish (README "Slow consumers"). */
  slowConsumerDisconnected(transport: Transport): void;
  /** Starts reading the node's state at scrape time. */
  observe(sources: TailerSources): void;
  /** Where `tailcast_db_client_replacements_total` is read (the bus set). */
  countClientReplacements(read: () => number): void;
}

const lagOf = (s: TailerSources | null): Lag | null => s?.live.snapshot().lag ?? null;
const NAN = Number.NaN;

export function createTailerMetrics(registry: Registry = createMetricsRegistry()): TailerMetrics {
  const registers = [registry];
  let sources: TailerSources | null = null;
  const tail = () => sources?.live.snapshot().tail ?? null;

  // Per message: plain numbers, read at scrape time, cost less than a prom-client increment.
  const sent = { messages: 0, deliveries: 0 };
  counterOf(
    registry,
    {
      name: "tailcast_messages_fanned_out_total",
      help: "Messages the node's tail read from the bus and handed to its fan-out.",
    },
    () => single(sent.messages),
  );
  counterOf(
    registry,
    {
      name: "tailcast_deliveries_total",
      help: "Live messages sent to subscribed connections (one per message per connection).",
    },
    () => single(sent.deliveries),
  );
  const latency = new Histogram({
    name: "tailcast_delivery_latency_seconds",
    help: "Time from the bus accepting a message (its ts, the writer's clock) to this node sending it to its subscribers.",
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const slowConsumers = new Counter({
    name: "tailcast_slow_consumer_disconnects_total",
    help: "Connections cut because their outbound buffer passed TAILCAST_MAX_PENDING_BYTES.",
    labelNames: ["transport"] as const,
    registers,
  });
  for (const transport of TRANSPORTS) slowConsumers.inc({ transport }, 0);

  gaugeOf(
    registry,
    {
      name: "tailcast_connections",
      help: "Open subscriber connections, by transport.",
      labelNames: ["transport"],
    },
    () => {
      const counts = sources?.connections();
      return TRANSPORTS.map((transport) => [{ transport }, counts?.[transport] ?? 0] as const);
    },
  );
  gaugeOf(
    registry,
    { name: "tailcast_subscriptions", help: "Channels joined, summed over connections." },
    () => {
      let n = 0;
      for (const s of sources?.sessions ?? []) n += s.channels.size;
      return single(n);
    },
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_channels_with_subscribers",
      help: "Distinct channels at least one connection has joined.",
    },
    () => {
      const channels = new Set<string>();
      for (const s of sources?.sessions ?? []) for (const c of s.channels) channels.add(c);
      return single(channels.size);
    },
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_tail_lag_offsets",
      help: "Messages the node's tail is behind the bus's newest (NaN until measured).",
    },
    () => single(lagOf(sources)?.offsets ?? NAN),
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_tail_lag_seconds",
      help: "How far behind the bus's newest message the node's tail is, in bus time (NaN until measured).",
    },
    () => {
      const lag = lagOf(sources);
      return single(lag ? lag.ms / 1000 : NAN);
    },
  );
  counterOf(
    registry,
    {
      name: "tailcast_tail_gaps_total",
      help: "Holes in what the node's tail delivered (eviction, new epoch, rollback).",
    },
    () => single(tail()?.gaps ?? 0),
  );
  counterOf(
    registry,
    {
      name: "tailcast_tail_missed_messages_total",
      help: "Messages of all channels the node's tail skipped in its gaps (where known).",
    },
    () => single(tail()?.missed ?? 0),
  );
  counterOf(
    registry,
    {
      name: "tailcast_tail_cursor_reopens_total",
      help: "Times the node's tailable cursor was opened again after it ended.",
    },
    () => single(tail()?.reopens ?? 0),
  );
  counterOf(
    registry,
    {
      name: "tailcast_tail_refilled_messages_total",
      help: "Messages the cursor skipped that were read back from the bus directly (not gaps).",
    },
    () => single(tail()?.refilled ?? 0),
  );
  counterOf(
    registry,
    {
      name: "tailcast_recoveries_total",
      help: "Subscribes with `since` answered, by where they replayed from (window, bus, none) and result (recovered, unrecovered).",
      labelNames: ["source", "result"],
    },
    () => {
      const outcomes = sources?.live.snapshot().recovery.outcomes;
      return RECOVERY_SOURCES.flatMap((source) =>
        (["recovered", "unrecovered"] as const).map(
          (result) => [{ source, result }, outcomes?.[source][result] ?? 0] as const,
        ),
      );
    },
  );
  gaugeOf(
    registry,
    { name: "tailcast_recovery_window_messages", help: "Messages held in the node's recovery window." },
    () => single(sources?.live.snapshot().recovery.windowSize ?? 0),
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_recovery_window_bytes",
      help: "Bytes (of the messages' JSON) held in the node's recovery window.",
    },
    () => single(sources?.live.snapshot().recovery.windowBytes ?? 0),
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_tailer_ready",
      help: "1 while the node is ready (/readyz 200: a live cursor, not stopping), else 0.",
    },
    () => single(sources?.ready() ? 1 : 0),
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_tailer_draining",
      help: "1 while the node drains its clients before stopping, else 0.",
    },
    () => single(sources?.draining() ? 1 : 0),
  );
  // Per bus: how much of what the node reads its subscribers need (README "Tail on demand and affinity").
  const buses = () => sources?.buses?.() ?? [];
  counterOf(
    registry,
    {
      name: "tailcast_bus_documents_read_total",
      help: "Documents the node's tails read from bus `bus` (replays to subscribers not counted).",
      labelNames: ["bus"],
    },
    () => buses().map((b) => [{ bus: String(b.index) }, b.read] as const),
  );
  counterOf(
    registry,
    {
      name: "tailcast_bus_documents_delivered_total",
      help: "Of the documents read from bus `bus`, those for a channel with a subscriber on this node.",
      labelNames: ["bus"],
    },
    () => buses().map((b) => [{ bus: String(b.index) }, b.delivered] as const),
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_bus_tailing",
      help: "1 while the node tails bus `bus`, else 0.",
      labelNames: ["bus"],
    },
    () => buses().map((b) => [{ bus: String(b.index) }, b.tailing ? 1 : 0] as const),
  );
  // The bus's ends are read once per scrape for the three gauges below: a scrape starts every
  // metric's collect at once, so the read in flight is shared, and forgotten when it is done.
  let ends: Promise<BusEnds | null> | null = null;
  const busEnds = () => {
    ends ??= (sources?.busEnds() ?? Promise.resolve(null))
      .catch(() => null)
      .finally(() => {
        ends = null;
      });
    return ends;
  };
  gaugeOf(
    registry,
    {
      name: "tailcast_bus_retention_seconds",
      help: "Seconds of history the bus retains (newest minus oldest message ts); +Inf while nothing was evicted, NaN when unknown.",
    },
    async () => {
      const e = await busEnds();
      return single(e ? retentionSeconds(e) : NAN);
    },
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_bus_oldest_offset",
      help: "Offset of the oldest document the bus retains (NaN when unknown).",
    },
    async () => single((await busEnds())?.oldest.offset ?? NAN),
  );
  gaugeOf(
    registry,
    {
      name: "tailcast_bus_newest_offset",
      help: "Offset of the newest message in the bus (NaN when unknown).",
    },
    async () => single((await busEnds())?.newest.offset ?? NAN),
  );

  return {
    registry,
    delivered(envelope, n, nowMs = Date.now()) {
      sent.messages++;
      if (n === 0) return;
      sent.deliveries += n;
      latency.observe(Math.max(0, nowMs - Date.parse(envelope.ts)) / 1000);
    },
    slowConsumerDisconnected: (transport) => slowConsumers.inc({ transport }),
    observe(s) {
      sources = s;
    },
    countClientReplacements: dbClientReplacements(registry),
  };
}
