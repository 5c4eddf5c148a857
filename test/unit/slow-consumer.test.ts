import { EventEmitter } from "node:events";
import type { Socket } from "socket.io";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type GuardedConnection,
  overBound,
  replayBudget,
  SlowConsumers,
  stallVerdict,
} from "../../tailer/slow-consumer.ts";
import { guardSocketIo } from "../../tailer/slow-consumer-io.ts";

/** A connection whose buffered bytes the test sets; records what the bound did to it. */
class FakeConnection implements GuardedConnection {
  readonly transport: "ws" | "socket.io";
  buffered = 0;
  signalled = 0;
  terminated = 0;
  state: "open" | "closing" | "closed" = "open";
  constructor(transport: "ws" | "socket.io" = "ws") {
    this.transport = transport;
  }
  pending(): number {
    return this.buffered;
  }
  open(): boolean {
    return this.state === "open";
  }
  signal(): void {
    this.signalled++;
    this.state = "closing";
  }
  terminate(): void {
    this.terminated++;
    this.buffered = 0;
    this.state = "closed";
  }
  closed(): boolean {
    return this.state === "closed";
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("slow-consumer policy", () => {
  it("is over the bound only above it", () => {
    expect(overBound(1024, 1024)).toBe(false);
    expect(overBound(1025, 1024)).toBe(true);
    expect(overBound(0, 1024)).toBe(false);
  });

  it("lets a replay fill half the bound", () => {
    expect(replayBudget(1024 * 1024)).toBe(512 * 1024);
    expect(replayBudget(1025)).toBe(512);
  });

  it("waits for a cut connection that reads or holds nothing, terminates one that read nothing", () => {
    expect(stallVerdict(5000, 4000)).toBe("wait");
    expect(stallVerdict(5000, 0)).toBe("wait");
    expect(stallVerdict(0, 0)).toBe("wait");
    expect(stallVerdict(5000, 5000)).toBe("terminate");
    expect(stallVerdict(5000, 6000)).toBe("terminate");
  });
});

describe("SlowConsumers", () => {
  const options = { maxPendingBytes: 1000, stallMs: 100 };

  it("cuts a connection over the bound once, counts it per transport, and leaves one under it alone", () => {
    const cuts: Array<[string, number]> = [];
    const slow = new SlowConsumers(options, (conn, pending) => cuts.push([conn.transport, pending]));
    const fine = new FakeConnection("ws");
    fine.buffered = 1000;
    slow.check(fine);
    expect(fine.signalled).toBe(0);

    const ws = new FakeConnection("ws");
    ws.buffered = 1001;
    slow.check(ws);
    slow.check(ws); // already cut: closing, not counted again
    const io = new FakeConnection("socket.io");
    io.buffered = 5000;
    slow.check(io);
    expect([ws.signalled, io.signalled]).toEqual([1, 1]);
    expect(slow.counts).toEqual({ disconnects: 2, ws: 1, socketIo: 1 });
    expect(cuts).toEqual([
      ["ws", 1001],
      ["socket.io", 5000],
    ]);
  });

  it("cuts a suspect once the event loop's turn is over, if it is still over the bound then", async () => {
    const slow = new SlowConsumers(options);
    const stuck = new FakeConnection("socket.io");
    const burst = new FakeConnection("socket.io");
    for (const conn of [stuck, burst]) {
      conn.buffered = 2000;
      slow.suspect(conn);
      slow.suspect(conn); // every message while over: kept once
    }
    expect(stuck.signalled + burst.signalled).toBe(0); // never from inside the send path
    burst.buffered = 0; // its socket wrote the burst out during the turn
    await new Promise((resolve) => setImmediate(resolve));
    expect([stuck.signalled, burst.signalled]).toEqual([1, 0]);
    expect(slow.counts.disconnects).toBe(1);
    // A later turn starts afresh.
    burst.buffered = 3000;
    slow.suspect(burst);
    await new Promise((resolve) => setImmediate(resolve));
    expect(burst.signalled).toBe(1);
  });

  it("terminates a cut connection that reads nothing, and not one that keeps reading", () => {
    vi.useFakeTimers();
    const slow = new SlowConsumers(options);
    const stuck = new FakeConnection();
    stuck.buffered = 1500;
    const reading = new FakeConnection();
    reading.buffered = 1500;
    slow.check(stuck);
    slow.check(reading);
    for (const left of [1200, 900, 400]) {
      reading.buffered = left;
      vi.advanceTimersByTime(options.stallMs);
      expect(reading.terminated).toBe(0);
    }
    expect(stuck.terminated).toBe(1);
    reading.state = "closed"; // its close handshake ended it
    vi.advanceTimersByTime(10 * options.stallMs);
    expect(reading.terminated).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("Socket.IO connection bytes (engine.io write buffer + websocket transport)", () => {
  /** engine.io's connection as guardSocketIo reads it: events, state, the websocket transport's `ws`. */
  function fakeSocket() {
    const conn = Object.assign(new EventEmitter(), {
      readyState: "open",
      transport: {
        socket: {
          bufferedAmount: 0,
          terminated: 0,
          terminate() {
            this.terminated++;
          },
        },
      },
      close: vi.fn(),
    });
    const emitted: Array<[string, unknown]> = [];
    const socket = {
      conn,
      emit: (event: string, payload: unknown) => emitted.push([event, payload]),
      disconnect: () => {
        conn.readyState = "closing";
      },
    };
    return { conn, emitted, socket: socket as unknown as Socket };
  }

  it("counts packets until engine.io flushes them, plus what the websocket still holds", () => {
    const slow = new SlowConsumers({ maxPendingBytes: 1000, stallMs: 100 });
    const { conn, socket } = fakeSocket();
    const guarded = guardSocketIo(slow, socket);
    conn.emit("packetCreate", { data: "x".repeat(300) });
    // A broadcast's pre-encoded frame counts its bytes exactly.
    conn.emit("packetCreate", {
      data: "ignored",
      options: { wsPreEncodedFrame: [Buffer.alloc(2), Buffer.alloc(198)] },
    });
    expect(guarded.pending()).toBe(500);
    conn.emit("flush");
    conn.transport.socket.bufferedAmount = 450;
    expect(guarded.pending()).toBe(450);
  });

  it("cuts a connection still over the bound after the turn: the event, then the disconnect; a stalled one is terminated", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const slow = new SlowConsumers({ maxPendingBytes: 1000, stallMs: 100 });
    const { conn, emitted, socket } = fakeSocket();
    guardSocketIo(slow, socket);
    conn.transport.socket.bufferedAmount = 900;
    conn.emit("packetCreate", { data: "x".repeat(200) });
    expect(emitted).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(emitted).toEqual([
      ["tailcast:slow_consumer", { code: "slow_consumer", message: expect.any(String) }],
    ]);
    expect(conn.readyState).toBe("closing");
    expect(slow.counts).toEqual({ disconnects: 1, ws: 0, socketIo: 1 });
    vi.advanceTimersByTime(100);
    expect(conn.transport.socket.terminated).toBe(1);
  });
});
