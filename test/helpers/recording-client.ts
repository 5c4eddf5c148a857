/**
 * The real socket.io-client subscriber of the tests: it records every envelope per channel, waits for
 * what it expects, remembers its position per channel (last message received, else the last subscribe
 * ack), and can resume on any node — a new connection that re-subscribes each channel with `since` =
 * that position, the way a client SDK would after losing its node.
 */
import { io, type Socket } from "socket.io-client";
import type { Envelope } from "../../shared/message.ts";
import type { Position } from "../../shared/offsets.ts";
import type { SubscribeAck, UnsubscribeAck } from "../../shared/protocol/replies.ts";

export type OkAck = Extract<SubscribeAck, { ok: true }>;

export interface SubscribeRecord {
  url: string;
  channel: string;
  since: Position | null;
  ack: OkAck;
  receivedAtConnect: number;
  receivedAtAck: number;
}

export type Transport = "polling" | "websocket";

interface Waiter {
  check(): boolean;
}

export class RecordingClient {
  readonly name: string;
  /** Every envelope, in arrival order, across all connections. */
  readonly received: Envelope[] = [];
  /**
   * Every subscribe ack, in order: the node that gave it, the `since` sent, and how many messages had
   * arrived (in `received`) when the connection opened and when the ack came — what lies between was
   * replayed on that connection before the ack.
   */
  readonly acks: SubscribeRecord[] = [];
  readonly anomalies: string[] = [];
  readonly #events: string[];
  readonly #lastMessage = new Map<string, Position>();
  readonly #lastAck = new Map<string, Position>();
  readonly #waiters = new Set<Waiter>();
  #socket: Socket | null = null;
  #disconnected: Promise<string> = Promise.resolve("never connected");
  #url = "";
  #receivedAtConnect = 0;
  readonly #transports: Transport[];

  /**
   * `transports` as socket.io-client takes them; default WebSocket only. With long-polling the client
   * keeps cookies (a load balancer's affinity cookie), as a browser would.
   */
  constructor(name: string, events: string[] = ["message", "chat"], transports: Transport[] = ["websocket"]) {
    this.name = name;
    this.#events = events;
    this.#transports = transports;
  }

  get url(): string {
    return this.#url;
  }

  /** The current connection, for tests that speak to the node directly. */
  get socket(): Socket {
    if (!this.#socket) throw new Error(`${this.name}: not connected`);
    return this.#socket;
  }

  get connected(): boolean {
    return this.#socket?.connected === true;
  }

  /** Resolves with the reason once the current connection drops (from either side). */
  get disconnected(): Promise<string> {
    return this.#disconnected;
  }

  /** Opens a new connection (closing any previous one); reconnection is off: the test decides where and when it resumes. */
  async connect(url: string): Promise<void> {
    this.#socket?.close();
    const socket = io(url, {
      transports: this.#transports,
      withCredentials: this.#transports.includes("polling"),
      reconnection: false,
      forceNew: true,
    });
    this.#socket = socket;
    this.#url = url;
    this.#receivedAtConnect = this.received.length;
    for (const event of this.#events) {
      socket.on(event, (m: Envelope) => {
        // A replaced connection must not feed the record; tests assert this list stays empty.
        if (this.#socket !== socket) {
          this.anomalies.push(`message ${m.id} on a replaced connection`);
          return;
        }
        this.received.push(m);
        this.#lastMessage.set(m.channel, { offset: m.offset, epoch: m.epoch });
        for (const w of this.#waiters) w.check();
      });
    }
    this.#disconnected = new Promise((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", (err) => reject(new Error(`${this.name} → ${url}: ${err.message}`)));
    });
  }

  /** Subscribes and records the ack; a refusal throws. */
  async subscribe(channel: string, since: Position | null = null): Promise<OkAck> {
    const ack: SubscribeAck = await this.socket
      .timeout(60_000)
      .emitWithAck("subscribe", since ? { channel, since } : { channel });
    if (!ack.ok) throw new Error(`${this.name}: subscribe ${channel} refused: ${JSON.stringify(ack.error)}`);
    this.acks.push({
      url: this.#url,
      channel,
      since,
      ack,
      receivedAtConnect: this.#receivedAtConnect,
      receivedAtAck: this.received.length,
    });
    this.#lastAck.set(channel, { offset: ack.offset, epoch: ack.epoch });
    return ack;
  }

  /** Where to resume `channel` from: the last message received on it, else the last subscribe ack. */
  position(channel: string): Position | null {
    return this.#lastMessage.get(channel) ?? this.#lastAck.get(channel) ?? null;
  }

  channels(): string[] {
    return [...this.#lastAck.keys()];
  }

  /** Connects to `url` and re-subscribes every channel with `since` = its position; returns the acks. */
  async resume(url: string): Promise<Map<string, OkAck>> {
    const positions = new Map(this.channels().map((c) => [c, this.position(c)] as const));
    await this.connect(url);
    const acks = new Map<string, OkAck>();
    await Promise.all(
      [...positions].map(async ([channel, since]) => acks.set(channel, await this.subscribe(channel, since))),
    );
    return acks;
  }

  unsubscribe(channel: string): Promise<UnsubscribeAck> {
    return this.socket.timeout(10_000).emitWithAck("unsubscribe", { channel });
  }

  of(channel: string): Envelope[] {
    return this.received.filter((m) => m.channel === channel);
  }

  /** Resolves with the messages (of `channel`, if given) once there are `count`; rejects after `timeoutMs`. */
  async waitFor(count: number, opts: { channel?: string; timeoutMs?: number } = {}): Promise<Envelope[]> {
    const list = () => (opts.channel ? this.of(opts.channel) : this.received);
    await this.waitUntil(`${count} messages`, () => list().length >= count, opts.timeoutMs ?? 30_000);
    return list();
  }

  /** Resolves once `done()` holds, re-checked on every message; rejects after `timeoutMs`. */
  waitUntil(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          if (!done()) return false;
          this.#waiters.delete(waiter);
          clearTimeout(timer);
          resolve();
          return true;
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      if (!waiter.check()) this.#waiters.add(waiter);
    });
  }

  /** Resolves once a message with each of `ids` has arrived. */
  waitForIds(ids: Iterable<string>, timeoutMs = 60_000): Promise<void> {
    const wanted = new Set(ids);
    let seen = 0; // only scan what arrived since the last check
    const check = () => {
      for (; seen < this.received.length; seen++) wanted.delete((this.received[seen] as Envelope).id);
      return wanted.size === 0;
    };
    return this.waitUntil(`${wanted.size} message ids`, check, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message} (${wanted.size} still missing)`);
    });
  }

  close(): void {
    this.#socket?.close();
  }
}

/** What most tests need: a subscriber connected to `url`, listening to `events`. */
export type Subscriber = RecordingClient;

export async function connectSubscriber(url: string, events: string[] = ["message"]): Promise<Subscriber> {
  const s = new RecordingClient("subscriber", events);
  await s.connect(url);
  return s;
}
