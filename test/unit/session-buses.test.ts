/**
 * Sessions over several buses (tailer/session.ts BusRouter, as tailer/buses.ts gives it): each
 * channel's subscribe uses its own bus's tail and history, holds that bus while subscribed (released on
 * unsubscribe, a failed subscribe, close), waits for a tail opened on demand to know its start position,
 * and a gap of one bus reaches only that bus's channels. Fakes, no I/O.
 */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../shared/log.ts";
import { defaultMessageLimits, type Envelope } from "../../shared/message.ts";
import type { ErrorNotice, GapNotice } from "../../shared/protocol/replies.ts";
import type { BusRouter, ChannelHold } from "../../tailer/bus-router.ts";
import { createConnectionLimit } from "../../tailer/connection-limit.ts";
import type { SessionTransport } from "../../tailer/session.ts";
import { SubscriberSessions } from "../../tailer/sessions.ts";
import { EPOCH, envelope, FakeBus, FakeTail } from "../fakes/bus.ts";

/** Channel "x…" lives in bus 0, every other channel in bus 1. */
const busOf = (channel: string) => (channel.startsWith("x") ? 0 : 1);

interface FakeBusState {
  tail: FakeTail;
  history: FakeBus;
  holders: number;
  /** A tail opened on demand: `started` waits for `open()`. */
  opening: boolean;
  open: () => void;
  started: Promise<void>;
}

function fakeBus(position: number, opening = false): FakeBusState {
  const tail = new FakeTail({ offset: position, epoch: EPOCH });
  const history = new FakeBus([envelope(0, "sentinel")]);
  let open = () => {};
  const started = new Promise<void>((r) => {
    open = r;
  });
  if (opening) tail.isReady = false;
  return { tail, history, holders: 0, opening, open, started };
}

function router(buses: FakeBusState[]): BusRouter {
  return {
    hold(channel): ChannelHold {
      const bus = buses[busOf(channel)] as FakeBusState;
      bus.holders++;
      let released = false;
      return {
        tail: bus.tail,
        history: bus.history,
        opening: bus.opening,
        started: () => bus.started,
        release: () => {
          if (released) return;
          released = true;
          bus.holders--;
        },
      };
    },
  };
}

class Transport implements SessionTransport {
  readonly received: Envelope[] = [];
  readonly gaps: GapNotice[] = [];
  readonly #buses: FakeBusState[];
  readonly #listener = (e: Envelope) => this.received.push(e);
  constructor(buses: FakeBusState[]) {
    this.#buses = buses;
  }
  emit(e: Envelope): void {
    this.received.push(e);
  }
  join(channel: string): void {
    this.#buses[busOf(channel)]?.tail.join(channel, this.#listener);
  }
  leave(channel: string): void {
    this.#buses[busOf(channel)]?.tail.leave(channel, this.#listener);
  }
  connected = () => true;
  disconnect(_notice: ErrorNotice): void {}
  gap(notice: GapNotice): void {
    this.gaps.push(notice);
  }
  presenceUpdate = () => {};
  drained = () => Promise.resolve();
  moveOn = () => false;
  pending = () => 0;
}

async function setup(buses: FakeBusState[]) {
  const sessions = new SubscriberSessions({
    buses: router(buses),
    limits: defaultMessageLimits,
    subscribers: "off",
    maxSubscriptions: 10,
    subscribeRate: { perSecond: 1000, burst: 1000 },
    admitConnection: createConnectionLimit(0),
    replayBudget: 512 * 1024,
    log: createLogger("test", { write: () => {} }),
  });
  const transport = new Transport(buses);
  const session = await sessions.connect("10.0.0.1", undefined, transport);
  return { sessions, session, transport };
}

describe("sessions over several buses", () => {
  it("acks each channel at its own bus's position and delivers from that bus", async () => {
    const buses = [fakeBus(10), fakeBus(500)];
    const { session, transport } = await setup(buses);
    expect(await session.handle("subscribe", { channel: "x1" })).toMatchObject({ offset: 10 });
    expect(await session.handle("subscribe", { channel: "y1" })).toMatchObject({ offset: 500 });
    buses[0]?.tail.deliver(envelope(11, "x1"));
    buses[1]?.tail.deliver(envelope(501, "y1"));
    expect(transport.received.map((e) => `${e.channel}@${e.offset}`)).toEqual(["x1@11", "y1@501"]);
  });

  it("holds a bus while subscribed; unsubscribe, a repeated subscribe and close release exactly once", async () => {
    const buses = [fakeBus(10), fakeBus(500)];
    const { session } = await setup(buses);
    await session.handle("subscribe", { channel: "x1" });
    await session.handle("subscribe", { channel: "x2" });
    await session.handle("subscribe", { channel: "y1" });
    expect(buses.map((b) => b.holders)).toEqual([2, 1]);
    await session.handle("subscribe", { channel: "x1" }); // starts over: one hold for x1 still
    expect(buses.map((b) => b.holders)).toEqual([2, 1]);
    await session.handle("unsubscribe", { channel: "x2" });
    await session.handle("unsubscribe", { channel: "x2" });
    expect(buses.map((b) => b.holders)).toEqual([1, 1]);
    session.close();
    expect(buses.map((b) => b.holders)).toEqual([0, 0]);
  });

  it("a subscribe to a tail opened on demand waits for its start position, then joins there", async () => {
    const buses = [fakeBus(10), fakeBus(0, true)];
    const { session, transport } = await setup(buses);
    const pending = session.handle("subscribe", { channel: "y1" });
    const bus = buses[1] as FakeBusState;
    // The tail learns where it starts (the bus's newest), then the subscribe goes on.
    bus.tail.pos = { offset: 700, epoch: EPOCH };
    bus.tail.isReady = true;
    bus.open();
    expect(await pending).toMatchObject({ type: "subscribed", offset: 700, recovered: true });
    bus.tail.deliver(envelope(701, "y1"));
    expect(transport.received.map((e) => e.offset)).toEqual([701]);
  });

  it("with since on a tail opened on demand: replays from the bus up to the start position, then live", async () => {
    const buses = [fakeBus(10), fakeBus(0, true)];
    const bus = buses[1] as FakeBusState;
    bus.history.docs.push(envelope(3, "y1"), envelope(4, "x9"), envelope(5, "y1"), envelope(6, "y1"));
    const { session, transport } = await setup(buses);
    const pending = session.handle("subscribe", { channel: "y1", since: { offset: 3, epoch: EPOCH } });
    // Its window covers nothing before where it starts (tailer/live.ts).
    bus.tail.pos = { offset: 6, epoch: EPOCH };
    bus.tail.window.reset(bus.tail.pos);
    bus.tail.isReady = true;
    bus.open();
    expect(await pending).toMatchObject({ type: "subscribed", offset: 6, recovered: true });
    bus.tail.deliver(envelope(7, "y1"));
    expect(transport.received.map((e) => e.offset)).toEqual([5, 6, 7]);
    expect(bus.history.reads).toBeGreaterThan(0);
  });

  it("a tail that does not start in time: bus_unavailable, and the hold is released", async () => {
    const buses = [fakeBus(10), fakeBus(0, true)];
    const bus = buses[1] as FakeBusState;
    const { session } = await setup(buses);
    const pending = session.handle("subscribe", { channel: "y1" });
    bus.open(); // the wait gave up: still not ready
    const reply = await pending;
    expect(reply).toMatchObject({ type: "error", error: { code: "bus_unavailable" } });
    expect(bus.holders).toBe(0);
    expect(session.channels.size).toBe(0);
  });

  it("an unsubscribe while the tail starts cancels the subscribe and leaves no hold", async () => {
    const buses = [fakeBus(10), fakeBus(0, true)];
    const bus = buses[1] as FakeBusState;
    const { session, transport } = await setup(buses);
    const pending = session.handle("subscribe", { channel: "y1" });
    await session.handle("unsubscribe", { channel: "y1" });
    bus.tail.isReady = true;
    bus.open();
    expect(await pending).toMatchObject({ type: "error", error: { code: "invalid_request" } });
    expect(bus.holders).toBe(0);
    bus.tail.deliver(envelope(1, "y1"));
    expect(transport.received).toEqual([]);
  });

  it("a gap of one bus is told only for the channels of that bus", async () => {
    const buses = [fakeBus(10), fakeBus(500)];
    const { sessions, session, transport } = await setup(buses);
    await session.handle("subscribe", { channel: "x1" });
    await session.handle("subscribe", { channel: "y1" });
    await session.handle("subscribe", { channel: "y2" });
    const gap = { from: { offset: 500, epoch: EPOCH }, to: { offset: 0, epoch: "e2" }, missed: null };
    sessions.gap(gap, (channel) => busOf(channel) === 1);
    expect(transport.gaps.map((g) => g.channel).sort()).toEqual(["y1", "y2"]);
  });
});
