/**
 * Publishing with optional idempotency keys (G7): claim every keyed message, append the ones this
 * request owns, record their receipts; replayed keys return the original receipt untouched.
 *
 * With partitioned buses (README "Partitioned buses") each message goes to its channel's bus: the
 * claims are made for the whole request first (an idempotency refusal writes nothing anywhere), then
 * every bus's messages are appended by that bus's writer, the buses in parallel. A bus that fails
 * fails only its own messages; functions/batch.ts says what the request answers then.
 */
import { type AppendItem, type BusWriter, type Receipt, receiptOf } from "../shared/bus/append.ts";
import { type Claim, fingerprint, type IdempotencyStore, scopedKey } from "../shared/bus/idempotency.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { OutgoingMessage } from "../shared/message.ts";
import { groupByBus, type Outcome, type Settled, settle } from "./batch.ts";
import type { IngestMetrics } from "./metrics.ts";

export interface PublishDeps {
  /** The writer of bus `bus` (an index into the bus set; bus 0 without one). */
  writer: (bus?: number) => Promise<BusWriter>;
  idempotency: () => Promise<IdempotencyStore>;
  /** The bus a channel lives in (shared/bus/partition.ts busIndexOf); every channel in bus 0 without it. */
  busOf?: (channel: string) => number;
  metrics?: IngestMetrics;
}

export type Published = Settled;

type Owned = Extract<Claim, { kind: "owner" }>;

/**
 * Resolves with every message's receipt once all are written; rejects with the failure when nothing
 * new was written, and with PartialPublishError when some buses wrote their messages and others failed.
 */
export async function publishMessages(
  deps: PublishDeps,
  publisher: string,
  messages: OutgoingMessage[],
): Promise<Published> {
  const keyed = messages.some((m) => m.idempotencyKey !== undefined);
  const store = keyed ? await deps.idempotency() : undefined;
  const claims: Array<Claim | null> = messages.map(() => null);
  if (store) {
    try {
      for (const [i, m] of messages.entries()) {
        if (m.idempotencyKey !== undefined) {
          claims[i] = await store.claim(scopedKey(publisher, m.idempotencyKey), fingerprint(m), m.channel);
        }
      }
    } catch (err) {
      await Promise.all(claims.filter(isOwned).map((c) => store.abandon(c)));
      throw err;
    }
  }
  const outcomes: Array<Outcome | undefined> = messages.map(() => undefined);
  const toAppend: number[] = [];
  claims.forEach((claim, i) => {
    if (claim?.kind === "done") {
      outcomes[i] = { kind: "written", receipt: claim.receipt, replayed: true };
      deps.metrics?.idempotentReplays.inc();
    } else toAppend.push(i);
  });
  const busOf = deps.busOf ?? (() => 0);
  const groups = groupByBus(toAppend, (i) => busOf((messages[i] as OutgoingMessage).channel));
  const completions: Promise<boolean>[] = [];
  await Promise.all(
    [...groups].map(async ([bus, group]) => {
      const positions = group.map((g) => toAppend[g] as number);
      const items: AppendItem[] = positions.map((i) => {
        const m = messages[i] as OutgoingMessage;
        const claim = claims[i];
        return claim?.kind === "owner" ? { ...m, ik: claim.key } : m;
      });
      const owned = positions.map((i) => claims[i]).filter(isOwned);
      let appended: Receipt[];
      try {
        appended = (await (await deps.writer(bus)).append(items)).map(receiptOf);
      } catch (error) {
        if (store) await Promise.all(owned.map((c) => store.abandon(c)));
        for (const i of positions) {
          outcomes[i] = { kind: "failed", channel: (messages[i] as OutgoingMessage).channel, error };
        }
        return;
      }
      positions.forEach((i, n) => {
        const receipt = appended[n] as Receipt;
        const claim = claims[i];
        if (store && claim?.kind === "owner") completions.push(store.complete(claim, receipt));
        outcomes[i] = { kind: "written", receipt, replayed: false };
      });
    }),
  );
  // The message is in the bus either way; a failed completion is resolved by the next retry (it finds `ik`).
  const recorded = await Promise.allSettled(completions);
  if (recorded.some((r) => r.status === "fulfilled" && !r.value)) {
    // A retry took the claim over: this append outlived the time appends are bounded to. Its receipt
    // may not be the one the key records, so it is not given out; a retry with the key gets that one.
    throw new TailcastError(
      ErrorCode.busUnavailable,
      "This request's Idempotency-Key was taken over by a retry while it was being written; retry with the same key.",
      { retryAfter: 1, reason: "idempotency_takeover" },
    );
  }
  return settle(outcomes as Outcome[]);
}

function isOwned(c: Claim | null | undefined): c is Owned {
  return c?.kind === "owner";
}
