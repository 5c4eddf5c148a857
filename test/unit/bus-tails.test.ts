/**
 * The node's tails over a bus set (tailer/buses.ts): a channel's hold opens the tail of the bus the
 * channel hashes to, and only that one; the last release closes it after the idle time (fake clock);
 * one bus is tailed for good. The database is never reached: the buses' setup fails, so a tail only
 * waits to retry.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { BusHandle, BusSet } from "../../shared/bus/bus-set.ts";
import { loadBusSet } from "../../shared/bus/config.ts";
import { busIndexOf } from "../../shared/bus/partition.ts";
import { cachedUntilFailure } from "../../shared/lazy.ts";
import { createLogger } from "../../shared/log.ts";
import type { MongoHandle } from "../../shared/mongo.ts";
import { BusTails } from "../../tailer/buses.ts";
import type { Timers } from "../../tailer/tail-demand.ts";
import { channelIn } from "../helpers/bus-set-writer.ts";

const unreachable = () => Promise.reject(new Error("no database in unit tests"));

function fakeSet(n: number): BusSet {
  const buses = loadBusSet({ TAILCAST_BUSES: String(n) }).map(
    (config, index): BusHandle => ({
      index,
      config,
      mongo: { db: unreachable, close: async () => {} } as unknown as MongoHandle,
      collection: cachedUntilFailure(unreachable),
    }),
  );
  return {
    buses,
    forChannel: (channel) => buses[busIndexOf(channel, n)] as BusHandle,
    clientReplacements: () => 0,
    close: async () => {},
  };
}

/** Timers that fire only when `fire()` is called. */
function manualTimers(): Timers & { fire(): void } {
  const due = new Set<() => void>();
  return {
    set: (fn) => {
      due.add(fn);
      return fn;
    },
    clear: (h) => void due.delete(h as () => void),
    fire: () => {
      for (const fn of [...due]) {
        due.delete(fn);
        fn();
      }
    },
  };
}

const running: BusTails[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

function tails(n: number, onDemand: boolean) {
  const timers = manualTimers();
  const t = new BusTails({
    set: fakeSet(n),
    deliver: () => 0,
    gap: () => {},
    log: createLogger("test", { write: () => {} }),
    timers,
    options: {
      onDemand,
      idleMs: 1000,
      startWaitMs: 10,
      awaitMs: 100,
      batchSize: 10,
      recoveryWindow: 900,
      recoveryWindowBytes: 9000,
      lagIntervalMs: 60_000,
    },
  });
  running.push(t);
  return { t, timers };
}

describe("BusTails", () => {
  it("routes a channel's hold to the bus it hashes to and opens that bus's tail only", () => {
    const { t } = tails(3, true);
    const ch = [0, 1, 2].map((i) => channelIn(i, 3, "route"));
    expect(t.reports().map((b) => b.tailing)).toEqual([false, false, false]);
    const hold = t.hold(ch[2] as string);
    expect(hold.opening).toBe(true);
    expect(t.reports().map((b) => b.tailing)).toEqual([false, false, true]);
    expect(t.reports().map((b) => b.collection)).toEqual(["bus", "bus_1", "bus_2"]);
    // Another channel of the same bus shares its tail.
    const other = t.hold(channelIn(2, 3, "other"));
    expect(other.tail).toBe(hold.tail);
    expect(t.hold(ch[0] as string).tail).not.toBe(hold.tail);
  });

  it("closes a bus's tail after the idle time once its last hold is released; a new hold opens a new one", () => {
    const { t, timers } = tails(3, true);
    const ch = channelIn(1, 3, "idle");
    const a = t.hold(ch);
    const b = t.hold(ch);
    a.release();
    timers.fire();
    expect(t.reports()[1]?.tailing).toBe(true);
    b.release();
    timers.fire();
    expect(t.reports()[1]?.tailing).toBe(false);
    const c = t.hold(ch);
    expect(c.tail).not.toBe(a.tail);
    expect(t.reports()[1]?.tailing).toBe(true);
  });

  it("shares the node's recovery window bounds among the buses", () => {
    const { t } = tails(3, true);
    t.hold(channelIn(0, 3, "w"));
    const { recovery } = t.snapshot();
    expect(recovery.windowCapacity).toBe(900);
    expect(recovery.windowCapacityBytes).toBe(9000);
  });

  it("a tail that does not know its position in time: started() gives up, the tail is not ready", async () => {
    const { t } = tails(2, true);
    const hold = t.hold("any");
    await hold.started();
    expect(hold.tail.ready()).toBe(false);
  });

  it("one bus: tailed from start for good; a hold neither opens nor waits", async () => {
    const { t, timers } = tails(1, false);
    void t.start().catch(() => {});
    const hold = t.hold("anything");
    expect(hold.opening).toBe(false);
    hold.release();
    timers.fire();
    expect(t.reports()).toEqual([{ index: 0, collection: "bus", tailing: true, read: 0, delivered: 0 }]);
    expect(t.live()).toBe(false); // no live cursor yet: /readyz as before
  });

  it("several buses: a bus that did not answer its check is refused at once and opens no tail", async () => {
    const { t } = tails(2, true);
    // Before the first check nothing is known: a subscribe waits for the tail it opens.
    expect(t.busStats().map((b) => b.answering)).toEqual([null, null]);
    await t.start(); // checks every bus: none answers here
    expect(t.busStats().map((b) => [b.answering, b.live, b.publishRate])).toEqual([
      [false, false, null],
      [false, false, null],
    ]);
    expect(t.live()).toBe(false);
    const hold = t.hold(channelIn(1, 2, "down"));
    expect([hold.opening, hold.tail.ready()]).toEqual([false, false]);
    expect(t.reports().map((b) => b.tailing)).toEqual([false, false]);
    hold.release();
  });

  it("one bus: answering is its live cursor (no check is made)", () => {
    const { t } = tails(1, false);
    void t.start().catch(() => {});
    expect(t.busStats()).toEqual([
      {
        index: 0,
        collection: "bus",
        tailing: true,
        read: 0,
        delivered: 0,
        live: false,
        answering: false,
        publishRate: 0,
      },
    ]);
  });
});
