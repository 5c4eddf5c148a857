/**
 * Shared pieces of the delivery-guarantee tests (README "Guarantees"): publishing with recorded receipts,
 * publisher loops, tailer /stats, reading the bus bounds directly, bounded polling where no event
 * exists, and an exact comparison of what a client received with what was acknowledged.
 */
import { get as httpGet } from "node:http";
import type { Component } from "../../infra/local/component.ts";
import type { Receipt } from "../../shared/bus/append.ts";
import type { TailStats } from "../../shared/bus/tail-loop.ts";
import type { Envelope } from "../../shared/message.ts";
import type { Position } from "../../shared/offsets.ts";
import { withDb } from "./stack.ts";

/** What a 201 from ingest promised: this message is in the bus at this offset. */
export type { Receipt };

/** Where an ingest process answers: a started Component, or one another supervisor runs (pm2). */
export type IngestEndpoint = Pick<Component, "url">;

export interface Outgoing {
  channel: string;
  event?: string;
  data: unknown;
}

export class PublishRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`publish refused: ${status} ${JSON.stringify(body)}`);
    this.name = "PublishRefused";
  }
}

/** POSTs JSON; anything but 201 (an aborted request included, as status 0) is a PublishRefused. */
async function post201(url: string, body: unknown, signal?: AbortSignal): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted) throw new PublishRefused(0, { aborted: String(signal.reason) });
    throw err;
  }
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new PublishRefused(res.status, json);
  return json;
}

/** POST /v1/messages; throws unless 201 (a refused publish is not acknowledged, and tests want to know). */
export async function publishBatch(
  ingest: IngestEndpoint,
  messages: Outgoing[],
  signal?: AbortSignal,
): Promise<Receipt[]> {
  return (await post201(`${ingest.url}/v1/messages`, { messages }, signal)).results as Receipt[];
}

/** POST /v1/channels/{channel}/messages; throws unless 201. */
export async function publishOne(
  ingest: IngestEndpoint,
  message: Outgoing,
  signal?: AbortSignal,
): Promise<Receipt> {
  const { channel, ...body } = message;
  const url = `${ingest.url}/v1/channels/${encodeURIComponent(channel)}/messages`;
  return (await post201(url, body, signal)) as unknown as Receipt;
}

export interface PublisherOptions {
  /** Requests rotate over these ingest processes. */
  ingests: IngestEndpoint[];
  /** Messages rotate over these channels (read on every request: a test may change it meanwhile). */
  channels: string[];
  /** Messages per batch request. */
  batchSize: number;
  /** Every n-th request is a single publish instead of a batch (0: never). */
  singleEvery: number;
  /** Stop after this many messages, or when `signal` aborts, whichever first. */
  total?: number;
  signal?: AbortSignal;
  /**
   * Aborting this also aborts the request in flight (its outcome is then unknown: it lands in
   * `refused` with status 0). Without it, stopping lets that request finish with a known outcome.
   */
  abortInFlight?: AbortSignal;
  /** Pause between requests (a steady trickle instead of a flood). */
  pauseMs?: number;
  /** Receipts are pushed here as they come, so a test can watch progress. */
  into: Receipt[];
  /**
   * Requests answered with an error go here instead of failing the loop (the loop goes on). Without
   * it, a refused request throws. A refused batch may still have been stored in part (see report).
   */
  refused?: Refused[];
  /** Label in the data, to tell publishers apart when debugging. */
  name: string;
}

export interface Refused {
  status: number;
  body: unknown;
  messages: Outgoing[];
}

/** An async publisher loop: batches and singles, channels interleaved within each batch. */
export async function runPublisher(o: PublisherOptions): Promise<number> {
  let sent = 0;
  for (let request = 0; !o.signal?.aborted && (o.total === undefined || sent < o.total); request++) {
    const ingest = o.ingests[request % o.ingests.length] as IngestEndpoint;
    const single = o.singleEvery > 0 && request % o.singleEvery === o.singleEvery - 1;
    const count = single ? 1 : Math.min(o.batchSize, (o.total ?? Number.POSITIVE_INFINITY) - sent);
    const messages = Array.from({ length: count }, (_, i) => ({
      channel: o.channels[(sent + i) % o.channels.length] as string,
      event: (sent + i) % 7 === 0 ? "chat" : "message",
      data: { p: o.name, n: sent + i },
    }));
    const signal = o.abortInFlight;
    try {
      if (single) o.into.push(await publishOne(ingest, messages[0] as Outgoing, signal));
      else o.into.push(...(await publishBatch(ingest, messages, signal)));
    } catch (err) {
      if (!(err instanceof PublishRefused) || !o.refused) throw err;
      o.refused.push({ status: err.status, body: err.body, messages });
    }
    sent += count;
    if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
  }
  return sent;
}

export interface NodeStats {
  node: string;
  clients: number;
  tail: TailStats;
  /** Recovery counters (tailer/live.ts); every tailer reports them. */
  recovery: { served: number; fromWindow: number; fromBus: number; unrecovered: number };
  lag?: { offsets: number; ms: number };
}

/**
 * A node's /stats on a connection of its own (no keep-alive pool): a pooled connection the node has
 * just closed for idleness would fail the read ("other side closed") for a reason outside the test.
 */
export async function nodeStats(node: Component): Promise<NodeStats> {
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpGet(`${node.url}/stats`, { agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${node.url}/stats: no answer in 5 s`)));
    req.on("error", reject);
  });
  if (status !== 200) throw new Error(`${node.url}/stats: ${status}`);
  return JSON.parse(body) as NodeStats;
}

/**
 * Polls `probe` until it returns something other than undefined; for states no process announces
 * (eviction by FerretDB's background job, a node's counters). Bounded: throws after `timeoutMs`.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = ` (last error: ${(err as Error).message})`;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError}`);
}

/** Oldest and newest position the bus holds right now, read directly from the database. */
export async function busBounds(
  uri: string,
  db: string,
  collection = "bus",
): Promise<{ oldest: Position; newest: Position; count: number }> {
  return withDb(uri, async (client) => {
    const bus = client.db(db).collection<Position>(collection);
    const projection = { _id: 0, offset: 1, epoch: 1 };
    const oldest = await bus.findOne({}, { sort: { offset: 1 }, projection });
    const newest = await bus.findOne({}, { sort: { offset: -1 }, projection });
    if (!oldest || !newest) throw new Error(`bus ${db}.${collection} is empty or missing`);
    return { oldest, newest, count: await bus.countDocuments() };
  });
}

/**
 * Compares what a client received on one channel with the acknowledged messages of that channel
 * (which it must receive exactly, in offset order). `tolerated` admits messages that were never
 * acknowledged but may legitimately be in the bus (those of a refused publish); they must still be
 * in order and not duplicated. Returns human-readable problems, empty when the sequence is exact;
 * short even for sequences of thousands.
 */
export function sequenceProblems(
  received: Envelope[],
  acknowledged: Receipt[],
  tolerated: (m: Envelope) => boolean = () => false,
): string[] {
  const problems: string[] = [];
  const sample = (xs: unknown[]) => `${JSON.stringify(xs.slice(0, 5))}${xs.length > 5 ? "…" : ""}`;

  const byId = new Map(acknowledged.map((r) => [r.id, r]));
  const seen = new Map<string, number>();
  for (const m of received) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
  const missing = acknowledged.filter((r) => !seen.has(r.id)).map((r) => r.offset);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const extra = received.filter((m) => !byId.has(m.id) && !tolerated(m)).map((m) => m.offset);
  if (missing.length)
    problems.push(`${missing.length} missing, offsets ${sample(missing.sort((a, b) => a - b))}`);
  if (duplicated.length) problems.push(`${duplicated.length} duplicated, ids ${sample(duplicated)}`);
  if (extra.length) problems.push(`${extra.length} never acknowledged, offsets ${sample(extra)}`);

  const wrongOffset = received.filter((m) => byId.has(m.id) && byId.get(m.id)?.offset !== m.offset);
  if (wrongOffset.length) problems.push(`${wrongOffset.length} with another offset than acknowledged`);
  const backwards: number[] = [];
  for (let i = 1; i < received.length; i++) {
    const [prev, cur] = [received[i - 1] as Envelope, received[i] as Envelope];
    if (cur.offset <= prev.offset) backwards.push(i);
  }
  if (backwards.length) {
    const at = backwards[0] as number;
    problems.push(
      `offsets do not strictly increase at ${backwards.length} places, first at index ${at}: ` +
        `${received[at - 1]?.offset} then ${received[at]?.offset}`,
    );
  }
  if (problems.length === 0) {
    // No loss, no duplicate, increasing offsets: then the acknowledged ones are in offset order too.
    const ackedInOrder = [...acknowledged].sort((a, b) => a.offset - b.offset).map((r) => r.id);
    const ackedReceived = received.filter((m) => byId.has(m.id)).map((m) => m.id);
    if (ackedReceived.join() !== ackedInOrder.join()) problems.push("acknowledged ids in another order");
  }
  return problems;
}

export function receiptsOf(receipts: Receipt[], channel: string): Receipt[] {
  return receipts.filter((r) => r.channel === channel);
}

/** The gap positions of one JSON log line; nothing for a line that is not one. */
function parseLogLine(line: string): { from?: number; to?: number } {
  try {
    const record = JSON.parse(line) as { from?: { offset?: unknown }; to?: { offset?: unknown } };
    const from = record.from?.offset;
    const to = record.to?.offset;
    return typeof from === "number" && typeof to === "number" ? { from, to } : {};
  } catch {
    return {};
  }
}

/**
 * What a node logged about gaps, next to what the bus holds: a gap whose missing offsets are still in
 * the bus was not caused by eviction (G2 violated at that node, not an honest G5 gap).
 */
export async function gapReport(node: Component, uri: string, db: string): Promise<string> {
  const { tail } = await nodeStats(node);
  if (tail.gaps === 0) return "";
  const logged = node
    .output()
    .filter((line) => line.includes("fell behind") || line.includes("epoch changed"));
  const stillThere = await withDb(uri, async (client) => {
    const bus = client.db(db).collection<Position>("bus");
    const oldest = await bus.findOne({}, { sort: { offset: 1 }, projection: { _id: 0, offset: 1 } });
    const notes: string[] = [`oldest offset in the bus now: ${oldest?.offset}`];
    for (const line of logged) {
      // Components log JSON lines (shared/log.ts): the gap's `from` and `to` are positions.
      const { from, to } = parseLogLine(line);
      if (from === undefined || to === undefined) continue;
      const held = await bus.countDocuments({ offset: { $gt: from, $lt: to } });
      notes.push(`gap ${from} → ${to}: ${held} of the ${to - from - 1} skipped offsets are in the bus`);
    }
    return notes;
  });
  return [`${tail.gaps} gap(s), ${tail.missed} missed`, ...logged, ...stillThere].join("\n");
}

/** Where each node is compared with the bus: for timeouts, to tell a stuck node from a slow one. */
export async function whereAreNodes(nodes: Component[], uri: string, db: string): Promise<string> {
  const bus = await busBounds(uri, db).catch((err: Error) => ({ error: err.message }));
  const parts = await Promise.all(
    nodes.map(async (node) => {
      try {
        const { node: name, tail } = await nodeStats(node);
        const ready = (await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
        return `${name} at ${tail.position?.offset} (live=${tail.live}, /readyz ${ready}, reopens ${tail.reopens}, gaps ${tail.gaps}, lastError ${tail.lastError})`;
      } catch (err) {
        return `${node.url}: ${(err as Error).message}`;
      }
    }),
  );
  const head =
    "error" in bus ? `bus: ${bus.error}` : `bus newest ${bus.newest.offset} (${bus.count} documents)`;
  return [head, ...parts].join("; ");
}

/** Awaits `work`; if it fails, adds where the nodes are to the error. */
export async function explained<T>(
  work: Promise<T>,
  nodes: Component[],
  uri: string,
  db: string,
): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw new Error(`${(err as Error).message} — ${await whereAreNodes(nodes, uri, db)}`);
  }
}
