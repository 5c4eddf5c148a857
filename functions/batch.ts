/**
 * A publish across partitioned buses (README "Partitioned buses"), as pure functions: which messages go
 * to which bus, and how the buses' answers become the request's answer. Each bus is written on its own,
 * so a batch spanning buses may be written in part; what the client is told then is decided here.
 */
import type { Receipt } from "../shared/bus/append.ts";
import { type ErrorBody, TailcastError, toErrorBody } from "../shared/errors.ts";

/** The positions of `items` per bus, each list in request order, buses in ascending order. */
export function groupByBus<T>(items: readonly T[], busOf: (item: T) => number): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  items.forEach((item, i) => {
    const bus = busOf(item);
    const group = groups.get(bus);
    if (group) group.push(i);
    else groups.set(bus, [i]);
  });
  return new Map([...groups].sort(([a], [b]) => a - b));
}

/** What became of one message of a publish. */
export type Outcome =
  | { kind: "written"; receipt: Receipt; replayed: boolean }
  | { kind: "failed"; channel: string; error: unknown };

/** One entry of a partly written batch's `results`: the receipt, or why this message was not written. */
export type ResultEntry = Receipt | { channel: string; error: ErrorBody["error"] };

/**
 * Some of a batch's buses acknowledged their messages and others failed. Answered with the status and
 * error body the first failure would have had alone, plus `results`: every message's receipt or error,
 * in request order (functions/middleware/errors.ts).
 */
export class PartialPublishError extends Error {
  override readonly name = "PartialPublishError";
  constructor(
    /** The first failure, in request order: it gives the response its status, code and Retry-After. */
    readonly first: unknown,
    readonly outcomes: readonly Outcome[],
  ) {
    super("Part of the batch was written: some of its buses failed.", { cause: first });
  }
}

export interface Settled {
  receipts: Receipt[];
  replayed: boolean[];
}

/**
 * The request's answer from every message's outcome. All written: the receipts (a 201, as with one bus).
 * Nothing newly written (every bus that was to write failed): the first failure alone, exactly what one
 * bus answers — nothing of this request is in a bus, so any retry is safe. Both: PartialPublishError.
 */
export function settle(outcomes: readonly Outcome[]): Settled {
  const failed = outcomes.find((o) => o.kind === "failed");
  if (failed === undefined) {
    const written = outcomes as ReadonlyArray<Extract<Outcome, { kind: "written" }>>;
    return { receipts: written.map((o) => o.receipt), replayed: written.map((o) => o.replayed) };
  }
  if (outcomes.some((o) => o.kind === "written" && !o.replayed)) {
    throw new PartialPublishError(failed.error, outcomes);
  }
  throw failed.error;
}

/**
 * The `results` of a partly written batch. `publicError` turns a thrown value into what clients may
 * see (a database error becomes `bus_unavailable`: functions/middleware/errors.ts).
 */
export function partialResults(
  outcomes: readonly Outcome[],
  publicError: (err: unknown) => unknown = (e) => e,
): ResultEntry[] {
  return outcomes.map((o) =>
    o.kind === "written"
      ? o.receipt
      : { channel: o.channel, error: toErrorBody(publicError(o.error)).body.error },
  );
}

/** The longest Retry-After among the failures: by then every failed bus may be back. */
export function partialRetryAfter(
  outcomes: readonly Outcome[],
  publicError: (err: unknown) => unknown = (e) => e,
): number | undefined {
  let longest: number | undefined;
  for (const o of outcomes) {
    if (o.kind !== "failed") continue;
    const e = publicError(o.error);
    if (e instanceof TailcastError && e.retryAfter !== undefined)
      longest = Math.max(longest ?? 0, e.retryAfter);
  }
  return longest;
}
