/**
 * What one benchmark client saw, per step: each of its channels checked for order, loss and
 * duplicates (bench/stats.ts), plus a bounded sample of end-to-end latencies. Pure apart from the
 * clock passed in, so the client processes and the unit test share it.
 */
import { ChannelCheck, type Delivery, emptyDelivery, Reservoir } from "../stats.ts";
import { isPayload } from "./payload.ts";

/** What the publisher did in a step, per channel index: how many it sent and which of those failed. */
export interface StepTotals {
  sent: number[];
  failed: number[][];
}

export interface ClientStepReport {
  node: number;
  delivery: Delivery;
  latencies: number[];
  maxLatency: number;
  /** Every message event the client handled in the step, wanted or not. */
  deliveries: number;
  firstAt: number | null;
  lastAt: number | null;
}

class StepState {
  readonly checks = new Map<number, ChannelCheck>();
  readonly latency: Reservoir;
  unwanted = 0;
  deliveries = 0;
  firstAt: number | null = null;
  lastAt: number | null = null;
  constructor(samples: number) {
    this.latency = new Reservoir(samples);
  }
}

export class Recorder {
  readonly node: number;
  readonly channels: ReadonlySet<number>;
  readonly #samples: number;
  readonly #steps = new Map<number, StepState>();
  #stale = 0;
  #staleReported = 0;

  constructor(node: number, channels: number[], samplesPerStep: number) {
    this.node = node;
    this.channels = new Set(channels);
    this.#samples = samplesPerStep;
  }

  /**
   * One arrival at `at`. `orderKey`: the bus offset if the system has one (see ChannelCheck). `origin`:
   * what latency is measured from, the publisher's send time (the payload's `t`) unless given.
   */
  receive(payload: unknown, orderKey: number | undefined, at: number, origin?: number): void {
    if (!isPayload(payload)) {
      this.#stale++;
      return;
    }
    let state = this.#steps.get(payload.s);
    if (state === undefined) {
      state = new StepState(this.#samples);
      this.#steps.set(payload.s, state);
    }
    state.deliveries++;
    state.firstAt ??= at;
    state.lastAt = at;
    if (!this.channels.has(payload.c)) {
      state.unwanted++;
      return;
    }
    let check = state.checks.get(payload.c);
    if (check === undefined) {
      check = new ChannelCheck();
      state.checks.set(payload.c, check);
    }
    if (check.observe(payload.q, orderKey ?? payload.q) === "ok")
      state.latency.add(at - (origin ?? payload.t));
  }

  #expected(totals: StepTotals): number {
    let expected = 0;
    for (const c of this.channels) expected += (totals.sent[c] ?? 0) - (totals.failed[c]?.length ?? 0);
    return expected;
  }

  /** Distinct wanted messages so far against what the publisher had stored. */
  progress(step: number, totals: StepTotals): { expected: number; delivered: number } {
    const state = this.#steps.get(step);
    let delivered = 0;
    if (state) for (const check of state.checks.values()) delivered += check.distinct;
    return { expected: this.#expected(totals), delivered };
  }

  report(step: number, totals: StepTotals): ClientStepReport {
    const state = this.#steps.get(step);
    const delivery = emptyDelivery();
    delivery.expected = this.#expected(totals);
    delivery.stale = this.#stale - this.#staleReported;
    this.#staleReported = this.#stale;
    if (state === undefined) {
      return {
        node: this.node,
        delivery,
        latencies: [],
        maxLatency: Number.NaN,
        deliveries: 0,
        firstAt: null,
        lastAt: null,
      };
    }
    let lostCount = 0;
    for (const c of this.channels) {
      const check = state.checks.get(c) ?? new ChannelCheck();
      lostCount += check.lostOf(totals.sent[c] ?? 0, new Set(totals.failed[c] ?? []));
      delivery.duplicates += check.duplicates;
      delivery.disorders += check.disorders;
    }
    delivery.delivered = delivery.expected - lostCount;
    delivery.unwanted = state.unwanted;
    return {
      node: this.node,
      delivery,
      latencies: state.latency.values(),
      maxLatency: state.latency.max,
      deliveries: state.deliveries,
      firstAt: state.firstAt,
      lastAt: state.lastAt,
    };
  }

  /** Forget a step once reported (a long run must not keep every message's number). */
  forget(step: number): void {
    this.#steps.delete(step);
  }
}
