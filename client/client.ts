/**
 * The client: one connection at a time to one node of the list, reconnecting with jittered backoff to
 * the next node when it fails, resubscribing every channel from its last position so the application
 * sees each message once, in order (G4), and hearing about what could not be recovered (G5). A node
 * that is draining sends it to another node at once (README "Drain"; reconnect.ts).
 */
import { sleep } from "../shared/backoff.ts";
import type { Envelope } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";
import { DRAINING_CODE } from "../shared/protocol/drain-signal.ts";
import { Emitter } from "./emitter.ts";
import { afterAck, isDuplicate } from "./positions.ts";
import { initialReconnectState, nextAttempt, type SessionEnd } from "./reconnect.ts";
import { socketIoConnect } from "./socketio-transport.ts";
import {
  type Connect,
  type Connection,
  ConnectRefused,
  type GapNotice,
  RequestRefused,
} from "./transport.ts";
import type {
  Client,
  ClientEvents,
  ClientOptions,
  ConnectionState,
  MessageHandler,
  Presence,
  SubscribeOptions,
  Subscription,
} from "./types.ts";
import { urlPicker, withAffinity } from "./urls.ts";
import { wsConnector } from "./ws-transport.ts";

export const defaultClientOptions: Readonly<Omit<ClientOptions, "urls">> = Object.freeze({
  transport: "ws",
  token: undefined,
  WebSocket: undefined,
  backoff: Object.freeze({ initialMs: 100, maxMs: 10_000 }),
  pickUrl: "round-robin",
  timeoutMs: 10_000,
  affinity: undefined,
});

/** Answers worth another try on another node; any other refusal is final for that channel. */
const RETRY_CODES: ReadonlySet<string> = new Set([
  "bus_unavailable",
  "internal_error",
  "rate_limited",
  "disconnected",
  "timeout",
]);

interface Sub {
  channel: string;
  handler: MessageHandler;
  position: Position | null;
  presence: boolean;
}

interface Session {
  url: string;
  conn: Connection;
  /** Ends the session: closes the connection and lets the loop move on. */
  drop(reason: string): void;
}

type SubscribeOutcome = "ok" | "retry" | "refused";

class TailcastClient implements Client {
  readonly #options: ClientOptions;
  readonly #connect: Connect;
  readonly #nextUrl: () => string;
  /** Distinct node URLs. */
  readonly #nodes: number;
  readonly #events = new Emitter<ClientEvents>((err) => console.error("tailcast client listener threw", err));
  readonly #subs = new Map<string, Sub>();
  readonly #stop = new AbortController();
  #session: Session | null = null;
  #state: ConnectionState = "disconnected";

  constructor(options: ClientOptions) {
    if (options.affinity !== undefined && (typeof options.affinity !== "string" || options.affinity === "")) {
      throw new TypeError("tailcast client: `affinity` must be a channel name.");
    }
    this.#options = options;
    this.#nextUrl = urlPicker(options.urls, options.pickUrl);
    this.#nodes = new Set(options.urls).size;
    if (options.transport === "socket.io") {
      this.#connect = socketIoConnect;
    } else {
      const Ctor = options.WebSocket ?? globalThis.WebSocket;
      if (typeof Ctor !== "function") {
        throw new TypeError(
          "tailcast client: no global WebSocket here (Node < 22); pass `WebSocket` from the `ws` package.",
        );
      }
      this.#connect = wsConnector(Ctor);
    }
    void this.#run();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  subscribe(channel: string, handler: MessageHandler, options: SubscribeOptions = {}): Subscription {
    if (this.#stop.signal.aborted) throw new Error("tailcast client: closed");
    if (this.#subs.has(channel)) throw new Error(`tailcast client: already subscribed to ${channel}`);
    const since = options.since ?? null;
    const sub: Sub = {
      channel,
      handler,
      position: since && { offset: since.offset, epoch: since.epoch },
      presence: options.presence === true,
    };
    this.#subs.set(channel, sub);
    const session = this.#session;
    if (session !== null) {
      void this.#subscribeOn(session, sub).then((outcome) => {
        if (outcome === "retry") session.drop("subscribe failed");
      });
    }
    return {
      channel,
      get position() {
        return sub.position;
      },
      unsubscribe: () => {
        if (this.#subs.get(channel) !== sub) return;
        this.#subs.delete(channel);
        this.#session?.conn.unsubscribe(channel);
      },
    };
  }

  async presence(channel: string): Promise<Presence> {
    if (this.#stop.signal.aborted) throw new Error("tailcast client: closed");
    const session = this.#session ?? (await this.#connected());
    const ack = await session.conn.presence(channel);
    if (!ack.ok) throw new RequestRefused(ack.error.code, ack.error.message);
    const { ok: _ok, ...presence } = ack;
    return presence;
  }

  /** The next session, within `timeoutMs`. */
  #connected(): Promise<Session> {
    const { timeoutMs } = this.#options;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        off();
      };
      const timer = setTimeout(() => {
        done();
        reject(new RequestRefused("timeout", `not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      // `node` is emitted once the session is in place.
      const off = this.#events.on("node", () => {
        const session = this.#session;
        if (session === null) return;
        done();
        resolve(session);
      });
    });
  }

  close(): void {
    this.#stop.abort();
    this.#session?.drop("client closed");
    this.#setState("disconnected");
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#events.emit("state", state);
  }

  async #run(): Promise<void> {
    let state = initialReconnectState;
    let avoid: string | null = null;
    while (!this.#stop.signal.aborted) {
      this.#setState("connecting");
      const url = this.#pick(avoid);
      const end = await this.#runSession(url);
      if (this.#stop.signal.aborted) break;
      this.#setState("connecting"); // reconnecting, after the backoff delay (none after a drain signal)
      const next = nextAttempt(state, end, this.#nodes, this.#options.backoff);
      state = next.state;
      avoid = end.drained ? url : null;
      if (next.delayMs > 0) await sleep(next.delayMs, this.#stop.signal);
    }
    this.#setState("disconnected");
  }

  /** The next URL, other than `avoid` (a node that is draining) while the list has another. */
  #pick(avoid: string | null): string {
    let url = this.#nextUrl();
    for (let i = 1; url === avoid && i < this.#options.urls.length; i++) url = this.#nextUrl();
    return url;
  }

  /** One connection, from connect to its end: whether every subscription was acknowledged, and whether the node sent the drain signal. */
  async #runSession(url: string): Promise<SessionEnd> {
    let ended!: (reason: string) => void;
    const end = new Promise<string>((resolve) => {
      ended = resolve;
    });
    let session: Session | null = null;
    let drained = false;
    let conn: Connection;
    try {
      const token = await this.#token();
      conn = await this.#connect({
        url: withAffinity(url, this.#options.affinity),
        token,
        timeoutMs: this.#options.timeoutMs,
        handlers: {
          message: (envelope) => {
            if (session !== null && this.#session === session) this.#deliver(envelope);
          },
          gap: (notice) => {
            if (session !== null && this.#session === session) this.#gap(notice);
          },
          presence: (update) => {
            if (session !== null && this.#session === session && this.#subs.get(update.channel)?.presence)
              this.#events.emit("presence", update);
          },
          refused: (code, message) => this.#events.emit("error", { channel: null, error: { code, message } }),
          draining: () => {
            drained = true;
          },
          closed: (reason) => ended(reason),
        },
      });
    } catch (err) {
      // A draining node refusing the handshake is no error: the client just goes elsewhere.
      if (err instanceof ConnectRefused && err.code === DRAINING_CODE)
        return { healthy: false, drained: true };
      if (err instanceof ConnectRefused) {
        this.#events.emit("error", { channel: null, error: { code: err.code, message: err.message } });
      }
      return { healthy: false, drained: false };
    }
    session = {
      url,
      conn,
      drop: (reason) => {
        conn.close();
        ended(reason);
      },
    };
    if (this.#stop.signal.aborted) {
      conn.close();
      return { healthy: false, drained };
    }
    // Taken before the session is visible: a listener below that subscribes sends its own request.
    const subs = [...this.#subs.values()];
    this.#session = session;
    this.#setState("connected");
    this.#events.emit("node", url);
    const current = session;
    const outcomes = await Promise.all(subs.map((sub) => this.#subscribeOn(current, sub)));
    const healthy = !outcomes.includes("retry");
    if (!healthy) session.drop("subscribe failed");
    await end;
    this.#session = null;
    return { healthy, drained };
  }

  async #token(): Promise<string | undefined> {
    const { token } = this.#options;
    return typeof token === "function" ? await token() : token;
  }

  async #subscribeOn(session: Session, sub: Sub): Promise<SubscribeOutcome> {
    const since = sub.position;
    const ack = await session.conn.subscribe(sub.channel, since, sub.presence);
    // Unsubscribed, or the session ended, while waiting: nothing to record.
    if (this.#subs.get(sub.channel) !== sub || this.#session !== session) return "ok";
    if (!ack.ok) {
      if (RETRY_CODES.has(ack.error.code)) return "retry";
      this.#subs.delete(sub.channel);
      this.#events.emit("error", { channel: sub.channel, error: ack.error });
      return "refused";
    }
    const acked = { offset: ack.offset, epoch: ack.epoch };
    sub.position = afterAck(sub.position, acked);
    if (!ack.recovered && since !== null) {
      this.#events.emit("gap", { channel: sub.channel, since, position: sub.position });
    }
    this.#events.emit("subscribed", {
      channel: sub.channel,
      url: session.url,
      position: sub.position,
      recovered: ack.recovered,
    });
    return "ok";
  }

  /**
   * The node lost messages of this channel: tell the application, and continue from just before the
   * first message after the hole. The position moves there even if it goes back (a rollback replaced
   * messages this client already had), so what the node delivers next is not dropped as a duplicate.
   */
  #gap(notice: GapNotice): void {
    const sub = this.#subs.get(notice.channel);
    if (sub === undefined) return;
    const since = sub.position ?? notice.from;
    // Offset 0 is a bus's sentinel, never a message: "everything up to 0" holds in a new epoch.
    const position = { offset: Math.max(0, notice.to.offset - 1), epoch: notice.to.epoch };
    sub.position = position;
    this.#events.emit("gap", { channel: sub.channel, since, position });
  }

  #deliver(envelope: Envelope): void {
    const sub = this.#subs.get(envelope.channel);
    if (sub === undefined || isDuplicate(sub.position, envelope)) return;
    sub.position = { offset: envelope.offset, epoch: envelope.epoch };
    try {
      sub.handler(envelope);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#events.emit("error", {
        channel: sub.channel,
        error: { code: "handler_error", message },
        cause: err,
      });
    }
  }
}

/**
 * Connects at once to one of `options.urls` and keeps a connection (to some node) until `close()`.
 *
 * @example
 * const client = createClient({ urls: ["https://rt1.example.com", "https://rt2.example.com"] });
 * const sub = client.subscribe("chat", (m) => render(m.data), { since: saved });
 * client.on("gap", ({ channel }) => reloadHistory(channel));
 */
export function createClient(options: Partial<ClientOptions> & Pick<ClientOptions, "urls">): Client {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return new TailcastClient({ ...defaultClientOptions, ...defined, urls: [...options.urls] });
}
