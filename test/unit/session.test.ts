/**
 * The subscriber session (tailer/session.ts) with a fake transport, bus and tail: admission, the order
 * of checks, recovery and the seam, superseded subscribes, refresh, expiry, release. No I/O.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { compilePatterns } from "../../shared/auth/channel-patterns.ts";
import type { Subscriber, TokenVerifier } from "../../shared/auth/jwt.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { createLogger } from "../../shared/log.ts";
import { defaultMessageLimits, type Envelope } from "../../shared/message.ts";
import type { PresenceUpdate } from "../../shared/presence/summary.ts";
import type { ErrorNotice, GapNotice } from "../../shared/protocol/replies.ts";
import { createConnectionLimit } from "../../tailer/connection-limit.ts";
import { PresenceTally } from "../../tailer/presence-tally.ts";
import { PresenceWatch } from "../../tailer/presence-watch.ts";
import type { SessionTransport } from "../../tailer/session.ts";
import { type SessionDeps, SubscriberSessions } from "../../tailer/sessions.ts";
import { EPOCH, envelope, FakeBus, FakeTail, messages } from "../fakes/bus.ts";
import { realEpipe } from "../helpers/socket-errors.ts";

/** One connection as the session sees it: what reached it, and what it joined. */
class FakeTransport implements SessionTransport {
  readonly received: Envelope[] = [];
  readonly notices: ErrorNotice[] = [];
  readonly gaps: GapNotice[] = [];
  readonly joins: string[] = [];
  open = true;
  readonly #tail: FakeTail;
  readonly #listener = (e: Envelope) => this.received.push(e);

  constructor(tail: FakeTail) {
    this.#tail = tail;
  }
  emit(e: Envelope): void {
    this.received.push(e);
  }
  join(channel: string): void {
    this.joins.push(channel);
    this.#tail.join(channel, this.#listener);
  }
  leave(channel: string): void {
    this.#tail.leave(channel, this.#listener);
  }
  connected(): boolean {
    return this.open;
  }
  disconnect(notice: ErrorNotice): void {
    this.notices.push(notice);
    this.open = false;
  }
  gap(notice: GapNotice): void {
    this.gaps.push(notice);
  }
  readonly presenceUpdates: PresenceUpdate[] = [];
  presenceUpdate(update: PresenceUpdate): void {
    this.presenceUpdates.push(update);
  }
  /** How many times the connection was told to move (the node is draining). */
  movedOn = 0;
  moveOn(): boolean {
    if (!this.open) return false;
    this.movedOn++;
    this.open = false;
    return true;
  }
  /** How many messages had been received each time a replay waited for this connection to drain. */
  readonly drainWaits: number[] = [];
  drained(): Promise<void> {
    this.drainWaits.push(this.received.length);
    this.#sinceDrain = this.received.length;
    return Promise.resolve();
  }
  /** Bytes the connection holds unsent: set by a test, or a function of what was received since the last drain. */
  pendingBytes: (sinceDrain: number) => number = () => 0;
  #sinceDrain = 0;
  pending(): number {
    return this.pendingBytes(this.received.length - this.#sinceDrain);
  }
  offsets(channel: string): number[] {
    return this.received.filter((e) => e.channel === channel).map((e) => e.offset);
  }
}

/** A token verifier that knows a fixed set of tokens. */
function verifier(
  tokens: Record<string, { sub: string; channels: string[]; ttlMs?: number }>,
): TokenVerifier {
  return {
    async verify(token) {
      const t = typeof token === "string" ? tokens[token] : undefined;
      if (!t) throw new TailcastError(ErrorCode.unauthorized, "Invalid token.");
      const subscriber: Subscriber = {
        sub: t.sub,
        channels: compilePatterns(t.channels),
        expiresAt: Date.now() + (t.ttlMs ?? 600_000),
      };
      return subscriber;
    },
  };
}

const TOKENS = {
  alice: { sub: "alice", channels: ["a", "b", "chat:*"] },
  aliceNarrow: { sub: "alice", channels: ["a"] },
  bob: { sub: "bob", channels: ["a", "b"] },
  short: { sub: "carol", channels: ["a"], ttlMs: 5000 },
};

/** A node that tailed offsets 1..20 (even ones on channel a, odd on b; all still in the bus), its window the last `capacity`. */
function setup(extra: Partial<SessionDeps> = {}, capacity = 100) {
  const all = messages(1, 20);
  const bus = new FakeBus([envelope(0, "sentinel"), ...all]);
  const tail = new FakeTail({ offset: 0, epoch: EPOCH }, capacity);
  tail.deliver(...all);
  const sessions = new SubscriberSessions({
    history: bus,
    tail,
    limits: defaultMessageLimits,
    subscribers: verifier(TOKENS),
    maxSubscriptions: 3,
    subscribeRate: { perSecond: 1000, burst: 1000 },
    replayBudget: 512 * 1024,
    admitConnection: createConnectionLimit(0),
    log: createLogger("test", { write: () => {} }),
    ...extra,
  });
  const connect = async (token: unknown = "alice") => {
    const transport = new FakeTransport(tail);
    const session = await sessions.connect("10.0.0.1", token, transport);
    return { transport, session };
  };
  return { bus, tail, sessions, connect };
}

const codeOf = (reply: { type: string; error?: { code: string } }) =>
  reply.type === "error" ? reply.error?.code : reply.type;

afterEach(() => {
  vi.useRealTimers();
});

/** Holds every bus read until the returned function is called: a replay stays in flight. */
function holdReads(bus: FakeBus): () => void {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const read = bus.readRange.bind(bus);
  bus.readRange = async (...args) => {
    await gate;
    return read(...args);
  };
  return () => release();
}

describe("subscribe", () => {
  it("without since: joins at the node's position and gets every later message", async () => {
    const { tail, connect } = setup();
    const { transport, session } = await connect();
    expect(await session.handle("subscribe", { channel: "a" })).toEqual({
      type: "subscribed",
      channel: "a",
      offset: 20,
      epoch: EPOCH,
      recovered: true,
    });
    tail.deliver(...messages(21, 24));
    expect(transport.offsets("a")).toEqual([22, 24]);
    expect(session.channels).toEqual(new Set(["a"]));
  });

  it("with since: replays from the window, then live, with no hole and no duplicate", async () => {
    const { bus, tail, connect } = setup();
    const { transport, session } = await connect();
    const reply = await session.handle("subscribe", { channel: "b", since: { offset: 11, epoch: EPOCH } });
    expect(reply).toMatchObject({ type: "subscribed", offset: 20, recovered: true });
    tail.deliver(...messages(21, 24));
    expect(transport.offsets("b")).toEqual([13, 15, 17, 19, 21, 23]);
    expect(bus.reads).toBe(0);
    expect(tail.stats).toMatchObject({ served: 1, fromWindow: 1 });
  });

  it("with since: a replay waits for the connection to drain once it holds more than the replay budget", async () => {
    const { tail, connect } = setup({ replayBudget: 3000 }, 5000);
    tail.deliver(...messages(21, 40));
    const { transport, session } = await connect();
    // Each message weighs 1000 bytes until the connection drains: over the budget after the fourth.
    transport.pendingBytes = (sinceDrain) => sinceDrain * 1000;
    const reply = await session.handle("subscribe", { channel: "a", since: { offset: 0, epoch: EPOCH } });
    expect(reply).toMatchObject({ type: "subscribed", offset: 40, recovered: true });
    expect(transport.drainWaits).toEqual([4, 8, 12, 16]);
    expect(transport.offsets("a")).toEqual(
      messages(1, 40)
        .filter((e) => e.channel === "a")
        .map((e) => e.offset),
    );
  });

  it("with since: a long replay waits for the connection to drain between pages", async () => {
    const { tail, connect } = setup({}, 5000);
    tail.deliver(...messages(21, 2020));
    const { transport, session } = await connect();
    const reply = await session.handle("subscribe", { channel: "a", since: { offset: 0, epoch: EPOCH } });
    expect(reply).toMatchObject({ type: "subscribed", offset: 2020, recovered: true });
    // 1010 messages of channel a, in pages of 500 (tailer/recovery.ts defaultRecoveryOptions).
    expect(transport.drainWaits).toEqual([500, 1000]);
    expect(transport.offsets("a")).toEqual(Array.from({ length: 1010 }, (_, i) => 2 * (i + 1)));
  });

  it("with since older than the window: replays from the bus", async () => {
    const { bus, tail, connect } = setup({}, 2);
    const { transport, session } = await connect();
    await session.handle("subscribe", { channel: "a", since: { offset: 2, epoch: EPOCH } });
    tail.deliver(envelope(21, "a"));
    expect(transport.offsets("a")).toEqual([4, 6, 8, 10, 12, 14, 16, 18, 20, 21]);
    expect(bus.reads).toBeGreaterThan(0);
    expect(tail.stats).toMatchObject({ served: 1, fromBus: 1 });
  });

  it("reports recovered:false for a position of another epoch and goes on live", async () => {
    const { tail, connect } = setup();
    const { transport, session } = await connect();
    const reply = await session.handle("subscribe", { channel: "a", since: { offset: 3, epoch: "old" } });
    expect(reply).toMatchObject({ type: "subscribed", recovered: false });
    tail.deliver(envelope(21, "a"));
    expect(transport.offsets("a")).toEqual([21]);
  });

  it("checks the request, then access, then readiness — so a refusal for good is never told to retry", async () => {
    const { tail, connect } = setup();
    tail.isReady = false;
    const { transport, session } = await connect();
    const code = async (body: unknown) => codeOf(await session.handle("subscribe", body));
    expect(await code(null)).toBe(ErrorCode.invalidRequest);
    expect(await code({ channel: "$where" })).toBe(ErrorCode.invalidChannel);
    expect(await code({ channel: "a", since: { offset: -1, epoch: EPOCH } })).toBe(ErrorCode.invalidRequest);
    expect(await code({ channel: "secret" })).toBe(ErrorCode.forbidden);
    expect(await code({ channel: "a" })).toBe(ErrorCode.busUnavailable);
    tail.isReady = true;
    expect(await code({ channel: "a" })).toBe("subscribed");
    expect(transport.joins).toEqual(["a"]);
  });

  it("refuses a channel outside the token and never joins it", async () => {
    const { tail, connect } = setup();
    const { transport, session } = await connect("bob");
    const reply = await session.handle("subscribe", {
      channel: "chat:1",
      since: { offset: 1, epoch: EPOCH },
    });
    expect(reply).toEqual({
      type: "error",
      error: {
        code: ErrorCode.forbidden,
        message: 'This token does not allow you to subscribe to channel "chat:1".',
      },
    });
    tail.deliver(envelope(21, "chat:1"));
    expect(transport.received).toEqual([]);
    expect(tail.stats.served).toBe(0);
  });

  it("holds at most maxSubscriptions channels; subscribing again to one of them is not a new one", async () => {
    const { connect } = setup();
    const { session } = await connect();
    for (const channel of ["a", "b", "chat:1"]) {
      expect(codeOf(await session.handle("subscribe", { channel }))).toBe("subscribed");
    }
    expect(codeOf(await session.handle("subscribe", { channel: "chat:2" }))).toBe(ErrorCode.invalidRequest);
    expect(codeOf(await session.handle("subscribe", { channel: "a" }))).toBe("subscribed");
    await session.handle("unsubscribe", { channel: "b" });
    expect(codeOf(await session.handle("subscribe", { channel: "chat:2" }))).toBe("subscribed");
  });

  it("a later subscribe to the same channel supersedes a replay in flight: one stream, no duplicate", async () => {
    const { bus, tail, connect } = setup({}, 2);
    const { transport, session } = await connect();
    const release = holdReads(bus);
    const first = session.handle("subscribe", { channel: "a", since: { offset: 2, epoch: EPOCH } });
    const second = await session.handle("subscribe", { channel: "a" });
    expect(second).toMatchObject({ type: "subscribed", offset: 20 });
    release();
    expect(await first).toEqual({
      type: "error",
      error: {
        code: ErrorCode.invalidRequest,
        message: "Cancelled by a later request for the same channel.",
      },
    });
    tail.deliver(...messages(21, 24));
    expect(transport.offsets("a")).toEqual([22, 24]);
    expect(transport.joins).toEqual(["a"]);
  });

  it("an unsubscribe cancels a replay in flight", async () => {
    const { bus, tail, connect } = setup({}, 2);
    const { transport, session } = await connect();
    bus.beforeRead = () => void session.handle("unsubscribe", { channel: "a" });
    const reply = await session.handle("subscribe", { channel: "a", since: { offset: 2, epoch: EPOCH } });
    expect(codeOf(reply)).toBe(ErrorCode.invalidRequest);
    tail.deliver(envelope(21, "a"));
    expect(transport.received).toEqual([]);
    expect(session.channels.size).toBe(0);
  });

  it("subscribes still replaying count toward the limit: back-to-back subscribes cannot exceed it", async () => {
    const { bus, tail, connect } = setup({}, 2);
    const { transport, session } = await connect();
    const release = holdReads(bus);
    const since = { offset: 2, epoch: EPOCH };
    const pending = ["a", "b", "chat:1", "chat:2", "chat:3"].map((channel) =>
      session.handle("subscribe", { channel, since }),
    );
    release();
    const codes = (await Promise.all(pending)).map(codeOf);
    expect(codes).toEqual([
      "subscribed",
      "subscribed",
      "subscribed",
      ErrorCode.invalidRequest,
      ErrorCode.invalidRequest,
    ]);
    expect(session.channels).toEqual(new Set(["a", "b", "chat:1"]));
    expect(new Set(transport.joins)).toEqual(new Set(["a", "b", "chat:1"]));
    tail.deliver(envelope(21, "chat:2"));
    expect(transport.offsets("chat:2")).toEqual([]);
  });

  it("a failed subscribe holds no slot", async () => {
    const { bus, connect } = setup({ maxSubscriptions: 1 }, 2);
    const { session } = await connect();
    const read = bus.readRange.bind(bus);
    bus.readRange = async () => {
      throw new Error("connection reset by 10.0.0.7");
    };
    const since = { offset: 2, epoch: EPOCH };
    expect(codeOf(await session.handle("subscribe", { channel: "a", since }))).toBe(ErrorCode.internal);
    bus.readRange = read;
    expect(codeOf(await session.handle("subscribe", { channel: "b", since }))).toBe("subscribed");
  });

  it("a refresh that narrows the token during a replay revokes it: forbidden, nothing more emitted, never joined", async () => {
    const { bus, tail, connect } = setup({}, 2);
    const { transport, session } = await connect();
    let refreshed: Promise<unknown> = Promise.resolve();
    bus.beforeRead = () => {
      bus.beforeRead = () => {};
      refreshed = session.handle("refresh", { token: "aliceNarrow" });
    };
    const read = bus.readRange.bind(bus);
    bus.readRange = async (...args) => {
      const page = await read(...args);
      await refreshed;
      return page;
    };
    const reply = await session.handle("subscribe", { channel: "b", since: { offset: 2, epoch: EPOCH } });
    expect(reply).toEqual({
      type: "error",
      error: {
        code: ErrorCode.forbidden,
        message: 'This token does not allow you to subscribe to channel "b".',
      },
    });
    expect(await refreshed).toMatchObject({ type: "refreshed", revoked: [] });
    tail.deliver(envelope(21, "b"));
    expect(transport.offsets("b")).toEqual([]);
    expect(transport.joins).toEqual([]);
    expect(session.channels.size).toBe(0);
  });

  it("answers internal_error, never throws, when the bus read fails unexpectedly", async () => {
    const { bus, connect } = setup({}, 2);
    bus.readRange = async () => {
      throw new Error("connection reset by 10.0.0.7");
    };
    const { session } = await connect();
    expect(await session.handle("subscribe", { channel: "a", since: { offset: 2, epoch: EPOCH } })).toEqual({
      type: "error",
      error: { code: ErrorCode.internal, message: "Internal error." },
    });
  });

  it("answers bus_unavailable, to retry, when the bus read fails with a database error", async () => {
    const { bus, connect } = setup({}, 2);
    const epipe = await realEpipe();
    bus.readRange = async () => {
      throw epipe;
    };
    const { session } = await connect();
    expect(
      await session.handle("subscribe", { channel: "a", since: { offset: 2, epoch: EPOCH } }),
    ).toMatchObject({
      type: "error",
      error: { code: ErrorCode.busUnavailable },
    });
  });

  it('logs about a connection carry its own connId (README "Logs")', async () => {
    const lines: string[] = [];
    const log = createLogger("tailer", { level: "debug", format: "json", write: (l) => lines.push(l) });
    const { bus, connect } = setup({ log }, 2);
    bus.readRange = async () => {
      throw new Error("connection reset by 10.0.0.7");
    };
    const one = await connect();
    const two = await connect();
    expect(one.session.id).not.toBe(two.session.id);
    await one.session.handle("subscribe", { channel: "a", since: { offset: 2, epoch: EPOCH } });
    two.session.close();
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.msg, r.connId])).toEqual([
      ["subscriber request failed", one.session.id],
      ["client disconnected", two.session.id],
    ]);
    expect(records[0]?.err).toMatchObject({ type: "Error", message: "connection reset by 10.0.0.7" });
  });
});

describe("subscribe rate", () => {
  const slow = { subscribeRate: { perSecond: 0.5, burst: 2 } };

  it("limits a token subject across its connections, answering rate_limited with when to retry", async () => {
    vi.useFakeTimers();
    const { connect } = setup(slow);
    const [first, second, other] = [await connect(), await connect(), await connect("bob")];
    const code = async (s: typeof first, channel: string) =>
      codeOf(await s.session.handle("subscribe", { channel }));
    expect(await code(first, "a")).toBe("subscribed");
    expect(await code(second, "b")).toBe("subscribed");
    // The subject's burst is spent, though each connection made only one subscribe.
    expect(await first.session.handle("subscribe", { channel: "chat:1" })).toEqual({
      type: "error",
      error: { code: ErrorCode.rateLimited, message: "Rate limit exceeded: retry after 2 s." },
    });
    expect(second.transport.joins).toEqual(["b"]);
    expect(await code(other, "a")).toBe("subscribed");
    vi.advanceTimersByTime(2000);
    expect(await code(first, "chat:1")).toBe("subscribed");
  });

  it("limits each connection, also with auth off (no subject)", async () => {
    vi.useFakeTimers();
    const { connect } = setup({ ...slow, subscribers: "off" });
    const [one, two] = [await connect(), await connect()];
    for (const channel of ["a", "b"]) {
      expect(codeOf(await one.session.handle("subscribe", { channel }))).toBe("subscribed");
    }
    expect(codeOf(await one.session.handle("subscribe", { channel: "c" }))).toBe(ErrorCode.rateLimited);
    expect(codeOf(await two.session.handle("subscribe", { channel: "c" }))).toBe("subscribed");
  });

  it("is checked after the refusals that can never succeed", async () => {
    const { connect } = setup({ subscribeRate: { perSecond: 0.001, burst: 1 } });
    const { session } = await connect();
    expect(codeOf(await session.handle("subscribe", { channel: "a" }))).toBe("subscribed");
    expect(codeOf(await session.handle("subscribe", { channel: "secret" }))).toBe(ErrorCode.forbidden);
    expect(codeOf(await session.handle("subscribe", { channel: "b" }))).toBe(ErrorCode.rateLimited);
  });
});

describe("unsubscribe and refresh", () => {
  it("unsubscribe leaves the live stream", async () => {
    const { tail, connect } = setup();
    const { transport, session } = await connect();
    await session.handle("subscribe", { channel: "a" });
    expect(await session.handle("unsubscribe", { channel: "a" })).toEqual({
      type: "unsubscribed",
      channel: "a",
    });
    tail.deliver(envelope(21, "a"));
    expect(transport.received).toEqual([]);
    expect(codeOf(await session.handle("unsubscribe", { channel: 5 }))).toBe(ErrorCode.invalidChannel);
  });

  it("refresh to a narrower token drops the channels it no longer allows", async () => {
    const { tail, connect } = setup();
    const { transport, session } = await connect();
    await session.handle("subscribe", { channel: "a" });
    await session.handle("subscribe", { channel: "b" });
    const reply = await session.handle("refresh", { token: "aliceNarrow" });
    expect(reply).toMatchObject({ type: "refreshed", revoked: ["b"] });
    tail.deliver(envelope(21, "a"), envelope(22, "b"));
    expect(transport.received.map((e) => e.offset)).toEqual([21]);
  });

  it("refuses a token for another subject, or none at all", async () => {
    const { connect } = setup();
    const { session } = await connect();
    expect(codeOf(await session.handle("refresh", { token: "bob" }))).toBe(ErrorCode.forbidden);
    expect(codeOf(await session.handle("refresh", "alice"))).toBe(ErrorCode.unauthorized);
    expect(codeOf(await session.handle("refresh", { token: "nope" }))).toBe(ErrorCode.unauthorized);
  });
});

describe("connections", () => {
  it("refuses a bad token and holds nothing for it", async () => {
    const { sessions, connect } = setup({ admitConnection: createConnectionLimit(1) });
    await expect(connect("nope")).rejects.toMatchObject({ code: ErrorCode.unauthorized });
    expect(sessions.size).toBe(0);
    // The address's only slot was released: a good connection is admitted.
    const { session } = await connect();
    expect(sessions.size).toBe(1);
    await expect(connect()).rejects.toMatchObject({ code: ErrorCode.rateLimited });
    session.close();
    session.close();
    expect(sessions.size).toBe(0);
    await connect();
  });

  it("close leaves every channel", async () => {
    const { tail, connect } = setup();
    const { transport, session } = await connect();
    await session.handle("subscribe", { channel: "a" });
    await session.handle("subscribe", { channel: "b" });
    session.close();
    tail.deliver(envelope(21, "a"), envelope(22, "b"));
    expect(transport.received).toEqual([]);
  });

  it("moveOn tells a connection once, and never one that is closed (the node is draining)", async () => {
    const { connect } = setup();
    const first = await connect();
    expect(first.session.moveOn()).toBe(true);
    expect(first.session.moveOn()).toBe(false);
    expect(first.transport.movedOn).toBe(1);
    const second = await connect();
    second.session.close();
    expect(second.session.moveOn()).toBe(false);
    expect(second.transport.movedOn).toBe(0);
  });

  it("a transport that cannot tell yet (still connecting) is told by a later moveOn", async () => {
    const { connect } = setup();
    const { transport, session } = await connect();
    transport.open = false;
    expect(session.moveOn()).toBe(false);
    transport.open = true;
    expect(session.moveOn()).toBe(true);
    expect(transport.movedOn).toBe(1);
  });

  it("disconnects with token_expired when the token runs out unrefreshed", async () => {
    vi.useFakeTimers();
    const { connect } = setup();
    const { transport } = await connect("short");
    vi.advanceTimersByTime(4999);
    expect(transport.notices).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(transport.notices).toEqual([
      { code: ErrorCode.tokenExpired, message: "The token expired; connect again with a new one." },
    ]);
  });

  it("with auth off, anyone connects and may subscribe to any channel", async () => {
    const { connect } = setup({ subscribers: "off" });
    const { session } = await connect("anything");
    expect(session.subject).toBeNull();
    expect(codeOf(await session.handle("subscribe", { channel: "secret" }))).toBe("subscribed");
  });
});

describe("gaps in the node's tail", () => {
  it("tells every connection, for each channel it has joined, and nobody else", async () => {
    const { sessions, connect } = setup();
    const one = await connect();
    const two = await connect("bob");
    const idle = await connect();
    const gone = await connect();
    await one.session.handle("subscribe", { channel: "a" });
    await one.session.handle("subscribe", { channel: "b" });
    await two.session.handle("subscribe", { channel: "b" });
    await gone.session.handle("subscribe", { channel: "a" });
    gone.session.close();
    const from = { offset: 20, epoch: EPOCH };
    const to = { offset: 31, epoch: EPOCH };
    sessions.gap({ from, to, missed: 10 });
    expect(one.transport.gaps).toEqual([
      { channel: "a", from, to, missed: 10 },
      { channel: "b", from, to, missed: 10 },
    ]);
    expect(two.transport.gaps).toEqual([{ channel: "b", from, to, missed: 10 }]);
    expect(idle.transport.gaps).toEqual([]);
    expect(gone.transport.gaps).toEqual([]);
  });
});

/** The node's presence over its own tally, as if every join were written at once (one node's fleet). */
function onePresence() {
  const tally = new PresenceTally({ subjects: true });
  const summaryOf = (channel: string) => {
    const subscribers = tally.counts.get(channel)?.subscribers ?? 0;
    const subjects = tally.subjects(channel, 100) ?? [];
    return { channel, subscribers, nodes: subscribers > 0 ? 1 : 0, subjects: [...subjects].sort() };
  };
  const watch = new PresenceWatch({
    read: async (channels) => new Map(channels.map((c) => [c, summaryOf(c)])),
    log: createLogger("test", { write: () => {} }),
  });
  return { tally, watch, read: async (channel: string) => summaryOf(channel) };
}

describe("presence", () => {
  it("counts a joined channel once however often it is subscribed, and not after it is left", async () => {
    const presence = onePresence();
    const { connect } = setup({ presence });
    const { session } = await connect();
    await session.handle("subscribe", { channel: "a" });
    await session.handle("subscribe", { channel: "a" });
    expect(await session.handle("presence", { channel: "a" })).toEqual({
      type: "presence",
      channel: "a",
      subscribers: 1,
      nodes: 1,
      subjects: ["alice"],
    });
    await session.handle("unsubscribe", { channel: "a" });
    expect(await session.handle("presence", { channel: "a" })).toMatchObject({ subscribers: 0, nodes: 0 });
  });

  it("pushes updates to a connection that subscribed with presence: true, and to no other", async () => {
    const presence = onePresence();
    const { connect } = setup({ presence });
    const watcher = await connect();
    const plain = await connect("bob");
    await watcher.session.handle("subscribe", { channel: "a", presence: true });
    await presence.watch.round();
    expect(watcher.transport.presenceUpdates).toEqual([
      { channel: "a", subscribers: 1, nodes: 1, subjects: ["alice"] },
    ]);
    await plain.session.handle("subscribe", { channel: "a" });
    await presence.watch.round();
    expect(watcher.transport.presenceUpdates.at(-1)).toEqual({
      channel: "a",
      subscribers: 2,
      nodes: 1,
      subjects: ["alice", "bob"],
      joined: ["bob"],
      left: [],
    });
    plain.session.close();
    await presence.watch.round();
    expect(watcher.transport.presenceUpdates.at(-1)).toMatchObject({ subscribers: 1, left: ["bob"] });
    expect(plain.transport.presenceUpdates).toEqual([]);
  });

  it("stops the updates on unsubscribe, on a resubscribe without presence, on a revoking refresh and on close", async () => {
    const presence = onePresence();
    const { connect } = setup({ presence });
    const { session } = await connect();
    await session.handle("subscribe", { channel: "a", presence: true });
    expect(presence.watch.channels).toBe(1);
    await session.handle("subscribe", { channel: "a" });
    expect(presence.watch.channels).toBe(0);
    await session.handle("subscribe", { channel: "a", presence: true });
    await session.handle("unsubscribe", { channel: "a" });
    expect(presence.watch.channels).toBe(0);
    await session.handle("subscribe", { channel: "b", presence: true });
    await session.handle("refresh", { token: "aliceNarrow" });
    expect(presence.watch.channels).toBe(0);
    await session.handle("subscribe", { channel: "a", presence: true });
    session.close();
    expect(presence.watch.channels).toBe(0);
    expect(presence.tally.counts.size).toBe(0);
  });

  it("refuses a presence flag that is not a boolean, watching nothing", async () => {
    const presence = onePresence();
    const { connect } = setup({ presence });
    const { session } = await connect();
    expect(codeOf(await session.handle("subscribe", { channel: "a", presence: "yes" }))).toBe(
      ErrorCode.invalidRequest,
    );
    expect(presence.watch.channels).toBe(0);
  });
});
