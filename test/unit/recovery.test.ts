/** Client recovery (tailer/recovery.ts) with a fake bus and tail: every path, no I/O. */
import { describe, expect, it } from "vitest";
import { defaultClientOptions } from "../../client/client.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import type { Envelope } from "../../shared/message.ts";
import {
  defaultRecoveryOptions,
  newRecoveryStats,
  RECOVERY_SOURCES,
  type RecoveryOptions,
  type RecoverySource,
  type RecoveryStats,
  type RecoveryTarget,
  replayThenJoin,
} from "../../tailer/recovery.ts";
import { EPOCH, envelope, FakeBus, FakeTail, messages } from "../fakes/bus.ts";

/** A subscriber of `channel` on `tail`: what it received (replayed, then live), in order. */
function subscriber(tail: FakeTail, channel: string) {
  const got: Envelope[] = [];
  let joined = false;
  let connected = true;
  return {
    channel,
    got,
    offsets: () => got.map((e) => e.offset),
    joined: () => joined,
    goAway: () => {
      connected = false;
    },
    target: {
      emit: (e: Envelope) => got.push(e),
      join: () => {
        joined = true;
        tail.join(channel, (e) => got.push(e));
      },
      connected: () => connected,
      drained: async () => {},
      backlogged: () => false,
    } as RecoveryTarget,
  };
}

/**
 * A connection that drains only when told: `asked` resolves when the replay waits for it, `release`
 * lets that wait end.
 */
function drainGate() {
  let release = () => {};
  let waiting = false;
  let onAsk = () => {};
  return {
    drained: () =>
      new Promise<void>((resolve) => {
        release = resolve;
        waiting = true;
        onAsk();
      }),
    /** Resolves once the replay is waiting (maybe already). */
    asked: () =>
      new Promise<void>((resolve) => {
        onAsk = resolve;
        if (waiting) resolve();
      }),
    release: () => {
      waiting = false;
      release();
    },
  };
}

/** Runs a replay through `gate`; what the subscriber had received each time the replay waited for drain. */
async function receivedAtEachWait(
  s: Subscriber,
  gate: ReturnType<typeof drainGate>,
  run: () => Promise<unknown>,
) {
  s.target.drained = gate.drained;
  const seen: number[] = [];
  let finished = false;
  const replay = run().then(() => {
    finished = true;
  });
  for (;;) {
    await Promise.race([replay, gate.asked()]);
    if (finished) return seen;
    seen.push(s.got.length);
    expect(s.joined(), "joined while a page was still draining").toBe(false);
    gate.release();
  }
}

/**
 * Makes `s` backlogged once `n` messages were emitted since it last drained (the session's byte budget,
 * counted in messages); returns the drain gate to run the replay through.
 */
function backloggedEvery(s: Subscriber, n: number) {
  let sinceDrain = 0;
  const emit = s.target.emit;
  s.target.emit = (e) => {
    sinceDrain++;
    emit(e);
  };
  s.target.backlogged = () => sinceDrain >= n;
  const gate = drainGate();
  const drained = gate.drained;
  gate.drained = async () => {
    await drained();
    sinceDrain = 0;
  };
  return gate;
}

/** A node that tailed offsets 1..n (all still in the bus), its window holding the last `capacity`. */
function node(n: number, capacity = 100) {
  const all = messages(1, n);
  const bus = new FakeBus([envelope(0, "sentinel"), ...all]);
  const tail = new FakeTail({ offset: 0, epoch: EPOCH }, capacity);
  tail.deliver(...all);
  return { bus, tail };
}

const offsetsOf = (channel: string, from: number, to: number) =>
  messages(from, to)
    .filter((e) => e.channel === channel)
    .map((e) => e.offset);

type Subscriber = ReturnType<typeof subscriber>;

/** Recovers `s` on the node `{ bus, tail }` from `since` (an offset of the bus's epoch, or a position). */
function recover(
  { bus, tail }: { bus: FakeBus; tail: FakeTail },
  s: Subscriber,
  since: number | { offset: number; epoch: string },
  extra: Partial<RecoveryOptions> = {},
) {
  const position = typeof since === "number" ? { offset: since, epoch: EPOCH } : since;
  return replayThenJoin(bus, s.channel, position, tail, s.target, { ...defaultRecoveryOptions, ...extra });
}

/** Recovery outcomes with every count zero but those given. */
function outcomes(
  given: Partial<Record<RecoverySource, Partial<{ recovered: number; unrecovered: number }>>>,
): RecoveryStats["outcomes"] {
  const all = newRecoveryStats().outcomes;
  for (const source of RECOVERY_SOURCES) Object.assign(all[source], given[source]);
  return all;
}

describe("replayThenJoin", () => {
  it("recovers a recent range from the window alone, then joins the live stream at the seam", async () => {
    const { bus, tail } = node(10);
    const s = subscriber(tail, "a");
    const out = await recover({ bus, tail }, s, 4);
    expect(out).toEqual({ recovered: true, position: { offset: 10, epoch: EPOCH } });
    expect(s.joined()).toBe(true);
    expect(bus.reads).toBe(0);
    tail.deliver(...messages(11, 14));
    expect(s.offsets()).toEqual(offsetsOf("a", 5, 14));
    expect(tail.stats).toEqual({
      served: 1,
      fromWindow: 1,
      fromBus: 0,
      unrecovered: 0,
      outcomes: outcomes({ window: { recovered: 1 } }),
    });
  });

  it("recovers an older range from the bus page by page, then joins with no hole and no duplicate", async () => {
    const { bus, tail } = node(40, 3);
    const s = subscriber(tail, "b");
    const out = await recover({ bus, tail }, s, 5, { page: 4 });
    expect(out.recovered).toBe(true);
    expect(bus.reads).toBeGreaterThan(3);
    tail.deliver(...messages(41, 44));
    expect(s.offsets()).toEqual(offsetsOf("b", 6, 44));
    expect(tail.stats).toEqual({
      served: 1,
      fromWindow: 0,
      fromBus: 1,
      unrecovered: 0,
      outcomes: outcomes({ bus: { recovered: 1 } }),
    });
  });

  it("keeps reading while the tail moves on during the replay", async () => {
    const { bus, tail } = node(20, 2);
    let next = 21;
    bus.beforeRead = () => {
      if (next > 30) return;
      const more = messages(next, next + 2);
      bus.docs.push(...more);
      tail.deliver(...more);
      next += 3;
    };
    const s = subscriber(tail, "a");
    await recover({ bus, tail }, s, 2, { page: 2 });
    tail.deliver(...messages(next, next + 3));
    expect(s.offsets()).toEqual(offsetsOf("a", 3, next + 3));
  });

  it("replays what is still retained and answers recovered:false when part of the range was evicted", async () => {
    const { bus, tail } = node(20, 2);
    bus.evictThrough(8);
    const s = subscriber(tail, "a");
    const out = await recover({ bus, tail }, s, 3);
    expect(out.recovered).toBe(false);
    expect(s.offsets()).toEqual(offsetsOf("a", 9, 20));
    expect(s.joined()).toBe(true);
    expect(tail.stats.unrecovered).toBe(1);
    expect(tail.stats.outcomes).toEqual(outcomes({ bus: { unrecovered: 1 } }));
  });

  it("answers recovered:false when the bus evicts between the retention check and a page, or between pages", async () => {
    for (const evictAtRead of [1, 2]) {
      const { bus, tail } = node(40, 2);
      bus.beforeRead = () => {
        // Eviction reaches exactly the messages the replay is about to read.
        if (bus.reads + 1 === evictAtRead) bus.evictThrough(evictAtRead === 1 ? 6 : 12);
      };
      const s = subscriber(tail, "a");
      const out = await recover({ bus, tail }, s, 4, { page: 3 });
      expect(out.recovered, `eviction before read ${evictAtRead}`).toBe(false);
      expect(s.joined()).toBe(true);
      expect(tail.stats.unrecovered).toBe(1);
    }
  });

  it("joins at once with recovered:false for a position of another epoch", async () => {
    const { bus, tail } = node(10);
    const s = subscriber(tail, "a");
    const out = await recover({ bus, tail }, s, { offset: 4, epoch: "old" });
    expect(out).toEqual({ recovered: false, position: { offset: 10, epoch: EPOCH } });
    expect(s.got).toEqual([]);
    expect(s.joined()).toBe(true);
    expect(tail.stats.unrecovered).toBe(1);
    expect(tail.stats.outcomes).toEqual(outcomes({ none: { unrecovered: 1 } }));
  });

  it("joins at once when the subscriber is exactly where the node is", async () => {
    const { bus, tail } = node(10, 2);
    const s = subscriber(tail, "a");
    expect((await recover({ bus, tail }, s, 10)).recovered).toBe(true);
    expect(s.got).toEqual([]);
    expect(bus.reads).toBe(0);
  });

  it("on a lagging node, waits for its tail to reach the subscriber, then joins without repeating anything", async () => {
    const all = messages(1, 12);
    const bus = new FakeBus(all);
    const tail = new FakeTail({ offset: 0, epoch: EPOCH });
    tail.deliver(...all.slice(0, 5)); // this node is at 5, the bus (and the client's last node) at 12
    tail.onWait = () => tail.deliver(all[tail.pos.offset] as Envelope);
    const s = subscriber(tail, "a");
    const out = await recover({ bus, tail }, s, 9);
    expect(out).toEqual({ recovered: true, position: { offset: 9, epoch: EPOCH } });
    expect(tail.waits).toBe(4);
    expect(s.got).toEqual([]);
    tail.deliver(...all.slice(9));
    expect(s.offsets()).toEqual(offsetsOf("a", 10, 12));
  });

  it("tells a subscriber to retry when the node stays behind it for too long", async () => {
    const { bus, tail } = node(10);
    bus.docs.push(...messages(11, 20));
    let now = 0;
    tail.onWait = () => {
      now += 10_000;
    };
    const s = subscriber(tail, "a");
    const err = await recover({ bus, tail }, s, 15, { catchUpMs: 30_000, clock: () => now }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TailcastError);
    expect((err as TailcastError).code).toBe(ErrorCode.busUnavailable);
    expect(tail.waits).toBe(4);
    expect(s.joined()).toBe(false);
  });

  it("on a node lagging for good, answers bus_unavailable before the client's subscribe times out", async () => {
    const { bus, tail } = node(10);
    bus.docs.push(...messages(11, 20));
    let now = 0;
    tail.onWait = () => {
      now += 100; // the node never catches up: each re-check finds it still at 10
    };
    const s = subscriber(tail, "a");
    const err = await replayThenJoin(bus, "a", { offset: 15, epoch: EPOCH }, tail, s.target, {
      ...defaultRecoveryOptions,
      clock: () => now,
    }).catch((e: unknown) => e);
    expect((err as TailcastError).code).toBe(ErrorCode.busUnavailable);
    // The client moves to another node on bus_unavailable (client/client.ts), with time to spare for
    // the replay that follows there.
    expect(now).toBeLessThanOrEqual(defaultClientOptions.timeoutMs / 2 + 100);
    expect(s.joined()).toBe(false);
  });

  it("while the bus is being recreated, waits for the node to reach the new epoch and answers recovered:false", async () => {
    // A subscriber from a node that saw offset 12 of the old bus; this node is at 10 of it, and the bus now
    // holds a new epoch. Not the subscriber's error: it keeps its subscription and is told of the gap.
    const { bus, tail } = node(10);
    bus.docs = [envelope(0, "sentinel", "recreated")];
    tail.onWait = () => tail.deliver(envelope(1, "a", "recreated"));
    const s = subscriber(tail, "a");
    const out = await recover({ bus, tail }, s, 12);
    expect(out).toEqual({ recovered: false, position: { offset: 1, epoch: "recreated" } });
    expect(s.joined()).toBe(true);
  });

  it("refuses a position past everything the bus holds instead of waiting for it", async () => {
    const { bus, tail } = node(10);
    const s = subscriber(tail, "a");
    const err = await recover({ bus, tail }, s, 1000).catch((e: unknown) => e);
    expect((err as TailcastError).code).toBe(ErrorCode.invalidRequest);
    expect(tail.waits).toBe(0);
  });

  it("replays from the window a page at a time, waiting for the subscriber to drain between pages", async () => {
    const { bus, tail } = node(40);
    const s = subscriber(tail, "a");
    const seen = await receivedAtEachWait(s, drainGate(), () => recover({ bus, tail }, s, 0, { page: 4 }));
    expect(seen).toEqual([4, 8, 12, 16, 20]);
    expect(bus.reads).toBe(0);
    tail.deliver(...messages(41, 42));
    expect(s.offsets()).toEqual(offsetsOf("a", 1, 42));
  });

  it("replays from the bus a page at a time, waiting for the subscriber to drain between pages", async () => {
    const { bus, tail } = node(40, 2);
    const s = subscriber(tail, "b");
    const seen = await receivedAtEachWait(s, drainGate(), () => recover({ bus, tail }, s, 0, { page: 4 }));
    expect(seen).toEqual([4, 8, 12, 16, 20]);
    tail.deliver(...messages(41, 42));
    expect(s.offsets()).toEqual(offsetsOf("b", 1, 42));
  });

  it("ends a window page early once the connection is backlogged, and joins only after the last one", async () => {
    const { bus, tail } = node(40);
    const s = subscriber(tail, "a");
    const gate = backloggedEvery(s, 3);
    const seen = await receivedAtEachWait(s, gate, () => recover({ bus, tail }, s, 0, { page: 100 }));
    expect(seen).toEqual([3, 6, 9, 12, 15, 18]);
    expect(bus.reads).toBe(0);
    tail.deliver(...messages(41, 42));
    expect(s.offsets()).toEqual(offsetsOf("a", 1, 42));
  });

  it("ends a bus page early once the connection is backlogged, waiting for it before the rest of the page", async () => {
    const { bus, tail } = node(40, 2);
    const s = subscriber(tail, "b");
    const gate = backloggedEvery(s, 3);
    const seen = await receivedAtEachWait(s, gate, () => recover({ bus, tail }, s, 0, { page: 4 }));
    // Pages of 4 split at 3: every wait comes after 3 messages, or at a page's end.
    expect(seen).toEqual([3, 4, 7, 8, 11, 12, 15, 16, 19, 20]);
    tail.deliver(...messages(41, 42));
    expect(s.offsets()).toEqual(offsetsOf("b", 1, 42));
  });

  it("stops a window replay whose subscriber left while a page was draining, without joining", async () => {
    const { bus, tail } = node(40);
    const s = subscriber(tail, "a");
    s.target.drained = async () => s.goAway();
    const out = await recover({ bus, tail }, s, 0, { page: 4 });
    expect(out.recovered).toBe(false);
    expect(s.offsets()).toEqual(offsetsOf("a", 1, 8));
    expect(s.joined()).toBe(false);
  });

  it("falls back to the bus when the window evicted the rest of the range while a page was draining", async () => {
    const { bus, tail } = node(40, 30);
    const s = subscriber(tail, "a");
    s.target.drained = async () => {
      if (bus.docs.length < 60) {
        const more = messages(41, 70);
        bus.docs.push(...more);
        tail.deliver(...more); // the window now holds 41..70 only
      }
    };
    const out = await recover({ bus, tail }, s, 10, { page: 4 });
    expect(out.recovered).toBe(true);
    expect(bus.reads).toBeGreaterThan(0);
    tail.deliver(...messages(71, 72));
    expect(s.offsets()).toEqual(offsetsOf("a", 11, 72));
  });

  it("stops a bus replay that a later request superseded (or whose subscriber left), without joining", async () => {
    const { bus, tail } = node(40, 2);
    const s = subscriber(tail, "a");
    bus.beforeRead = () => {
      if (bus.reads === 1) s.goAway();
    };
    const out = await recover({ bus, tail }, s, 2, { page: 3 });
    expect(out.recovered).toBe(false);
    expect(s.offsets()).toEqual(offsetsOf("a", 3, 40).slice(0, 3));
    expect(s.joined()).toBe(false);
    expect(bus.reads).toBe(2);
  });
});
