/**
 * Publishing with optional idempotency keys (G7): claim every keyed message, append the ones this
 * request owns, record their receipts; replayed keys return the original receipt untouched.
 */
import { type AppendItem, type BusWriter, type Receipt, receiptOf } from "../shared/bus/append.ts";
import { type Claim, fingerprint, type IdempotencyStore, scopedKey } from "../shared/bus/idempotency.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { OutgoingMessage } from "../shared/message.ts";
import type { IngestMetrics } from "./metrics.ts";

export interface PublishDeps {
  writer: () => Promise<BusWriter>;
  idempotency: () => Promise<IdempotencyStore>;
  metrics?: IngestMetrics;
}

export interface Published {
  receipts: Receipt[];
  /** True where the receipt is the original of an earlier publish with the same key. */
  replayed: boolean[];
}

type Owned = Extract<Claim, { kind: "owner" }>;

export async function publishMessages(
  deps: PublishDeps,
  publisher: string,
  messages: OutgoingMessage[],
): Promise<Published> {
  const keyed = messages.some((m) => m.idempotencyKey !== undefined);
  const writer = await deps.writer();
  if (!keyed) {
    const appended = await writer.append(messages);
    return { receipts: appended.map(receiptOf), replayed: messages.map(() => false) };
  }
  const store = await deps.idempotency();
  const claims: Array<Claim | null> = [];
  try {
    for (const m of messages) {
      claims.push(
        m.idempotencyKey === undefined
          ? null
          : await store.claim(scopedKey(publisher, m.idempotencyKey), fingerprint(m)),
      );
    }
  } catch (err) {
    await Promise.all(claims.filter(isOwned).map((c) => store.abandon(c)));
    throw err;
  }
  const toAppend: AppendItem[] = [];
  messages.forEach((m, i) => {
    const claim = claims[i];
    if (claim === null) toAppend.push(m);
    else if (claim?.kind === "owner") toAppend.push({ ...m, ik: claim.key });
  });
  let appended: Receipt[];
  try {
    appended = (toAppend.length > 0 ? await writer.append(toAppend) : []).map(receiptOf);
  } catch (err) {
    await Promise.all(claims.filter(isOwned).map((c) => store.abandon(c)));
    throw err;
  }
  const receipts: Receipt[] = [];
  const replayed: boolean[] = [];
  const completions: Promise<boolean>[] = [];
  let next = 0;
  for (const claim of claims) {
    if (claim?.kind === "done") {
      receipts.push(claim.receipt);
      replayed.push(true);
      deps.metrics?.idempotentReplays.inc();
      continue;
    }
    const receipt = appended[next++] as Receipt;
    if (claim) completions.push(store.complete(claim, receipt));
    receipts.push(receipt);
    replayed.push(false);
  }
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
  return { receipts, replayed };
}

function isOwned(c: Claim | null): c is Owned {
  return c?.kind === "owner";
}
