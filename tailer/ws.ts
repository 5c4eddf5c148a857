/**
 * Plain WebSocket on the tailer (brief §2): path `/ws` on the node's own HTTP server, JSON text frames,
 * the same validation, readiness rule and recovery (`since`) as Socket.IO.
 *
 * Close codes: 1000 normal; 1001 this node is shutting down (reconnect anywhere, with `since`); 1007
 * a text frame that is not UTF-8 and 1009 a frame over `maxPayload` (both sent by `ws`); 1008 no valid
 * token at connect or a token expired without refresh (after an `unauthorized` / `token_expired` error
 * frame); 1011 an unexpected failure here. A peer that misses a heartbeat is dropped (the client sees 1006). */
import type { Server as HttpServer, IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Collection } from "mongodb";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { TokenVerifier } from "../shared/auth/jwt.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { MessageLimits } from "../shared/message.ts";
import type { Position } from "../shared/offsets.ts";
import { errorReply } from "../shared/protocol/replies.ts";
import { parseSubscribe, parseUnsubscribe } from "../shared/protocol/requests.ts";
import {
  parseWsFrame,
  WsFrameError,
  type WsRequest,
  type WsRequestId,
  type WsServerFrame,
} from "../shared/protocol/ws-frames.ts";
import { ConnectionAccess, originAllowed, tokenExpired } from "./access.ts";
import { type Fanout, WsFanout } from "./fanout.ts";
import { notReady, replayThenJoin, type TailView } from "./recovery.ts";
import { frameText, pathnameOf, tokenOf } from "./ws-upgrade.ts";

export const WS_PATH = "/ws";

export interface WsOptions {
  /** How often the server pings; a peer that has not ponged since the previous ping is dropped. */
  heartbeatMs: number;
  /** Channels one connection may hold at once (security work tunes it). */
  maxSubscriptions: number;
  /** Largest frame accepted; a bigger one closes the connection with 1009. */
  maxPayload: number;
  /** Upgrade paths someone else on this HTTP server handles (engine.io's), left alone. */
  foreignPrefixes: string[];
  /** How long shutdown waits for peers to answer the 1001 close before cutting them off. */
  closeGraceMs: number;
}

export const defaultWsOptions: Readonly<WsOptions> = Object.freeze({
  heartbeatMs: 25_000,
  maxSubscriptions: 100,
  maxPayload: 64 * 1024,
  foreignPrefixes: ["/socket.io/"],
  closeGraceMs: 1000,
});

export interface WsDeps {
  bus: () => Promise<Collection<BusDoc>>;
  tail: TailView & { ready(): boolean };
  limits: MessageLimits;
  subscribers: TokenVerifier | "off";
  allowedOrigins: string[];
  /** Refuses a connection (e.g. too many from one address) by throwing; returns its release. */
  admitConnection: (address: string) => () => void;
  log: Logger;
  options?: Partial<WsOptions>;
}

interface Peer {
  alive: boolean;
  access: ConnectionAccess;
  /**
   * Channel → the token of its latest subscribe. A replay joins only while its token is current, so
   * a later subscribe or an unsubscribe of the same channel cancels it instead of racing it.
   */
  subs: Map<string, symbol>;
}

/** The /ws endpoint of one node; also the fan-out to its sockets. */
export class WsEndpoint {
  readonly #wss: WebSocketServer;
  readonly #deps: WsDeps;
  readonly #options: WsOptions;
  readonly #peers = new Map<WebSocket, Peer>();
  readonly #rooms = new WsFanout();
  readonly #heartbeat: NodeJS.Timeout;
  #closing = false;

  constructor(http: HttpServer, deps: WsDeps) {
    this.#deps = deps;
    this.#options = { ...defaultWsOptions, ...deps.options };
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.#options.maxPayload });
    this.#wss.on("connection", (ws: WebSocket, req: IncomingMessage) => void this.#accept(ws, req));
    http.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
    this.#heartbeat = setInterval(() => this.#beat(), this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Delivers messages to this endpoint's subscribers. */
  get fanout(): Fanout {
    return this.#rooms;
  }

  get clientsCount(): number {
    return this.#peers.size;
  }

  /** Node shutdown: every peer gets 1001 so it reconnects elsewhere; stragglers are cut off after a grace period. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    const sockets = [...this.#peers.keys()];
    const closed = sockets.map((ws) =>
      ws.readyState === WebSocket.CLOSED ? undefined : new Promise<void>((r) => ws.once("close", () => r())),
    );
    for (const ws of sockets) ws.close(1001, "node shutting down");
    const grace = new Promise<void>((r) => setTimeout(r, this.#options.closeGraceMs).unref());
    await Promise.race([Promise.all(closed), grace]);
    for (const ws of sockets) ws.terminate();
    await new Promise<void>((r) => this.#wss.close(() => r()));
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? "/";
    if (this.#options.foreignPrefixes.some((p) => url.startsWith(p))) return;
    if (pathnameOf(url) === WS_PATH && !originAllowed(req.headers.origin, this.#deps.allowedOrigins)) {
      socket.on("error", () => {});
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n");
      return;
    }
    if (pathnameOf(url) !== WS_PATH || this.#closing) {
      // Nobody else handles this upgrade (engine.io runs with destroyUpgrade: false): answer and hang up.
      socket.on("error", () => {});
      socket.end(
        `HTTP/1.1 ${this.#closing ? "503 Service Unavailable" : "404 Not Found"}\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit("connection", ws, req));
  }

  /**
   * The token comes as `?token=` (browsers cannot set headers on a WebSocket) or an Authorization
   * header. A refusal is an error frame then 1008, which a browser can read, unlike an HTTP 401.
   */
  async #accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    ws.on("error", (err) => this.#deps.log.debug("ws peer error", { err }));
    // Frames sent right after the handshake arrive while the token is being checked: keep them, or
    // `ws` would emit them to no listener and a client's first subscribe would vanish.
    const early: Array<[RawData, boolean]> = [];
    const hold = (data: RawData, isBinary: boolean) => early.push([data, isBinary]);
    ws.on("message", hold);
    const refuse = (err: unknown) => {
      this.#send(ws, { type: "error", id: null, error: errorReply(err).error });
      ws.close(1008, "policy violation");
    };
    let release: () => void;
    let access: ConnectionAccess;
    try {
      release = this.#deps.admitConnection(req.socket.remoteAddress ?? "unknown");
    } catch (err) {
      return refuse(err);
    }
    try {
      access = await ConnectionAccess.open(tokenOf(req), {
        verifier: this.#deps.subscribers,
        maxSubscriptions: this.#options.maxSubscriptions,
        onExpired: () => refuse(tokenExpired()),
      });
    } catch (err) {
      release();
      return refuse(err);
    }
    if (ws.readyState !== WebSocket.OPEN) {
      access.close();
      return release();
    }
    const peer: Peer = { alive: true, access, subs: new Map() };
    this.#peers.set(ws, peer);
    ws.on("pong", () => {
      peer.alive = true;
    });
    ws.on("close", () => {
      for (const channel of peer.subs.keys()) this.#rooms.leave(ws, channel);
      this.#peers.delete(ws);
      access.close();
      release();
    });
    const handle = (data: RawData, isBinary: boolean) => {
      this.#handle(ws, peer, data, isBinary).catch((err: unknown) => {
        this.#deps.log.error("ws request failed", { err });
        ws.close(1011, "internal error");
      });
    };
    ws.off("message", hold);
    ws.on("message", handle);
    for (const [data, isBinary] of early) handle(data, isBinary);
  }

  #beat(): void {
    for (const [ws, peer] of this.#peers) {
      if (!peer.alive) {
        ws.terminate();
        continue;
      }
      peer.alive = false;
      ws.ping();
    }
  }

  #send(ws: WebSocket, frame: WsServerFrame): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  async #handle(ws: WebSocket, peer: Peer, data: RawData, isBinary: boolean): Promise<void> {
    let request: WsRequest;
    try {
      request = parseWsFrame(frameText(data, isBinary));
    } catch (err) {
      return this.#send(ws, {
        type: "error",
        id: err instanceof WsFrameError ? err.id : null,
        error: errorReply(err).error,
      });
    }
    const { id } = request;
    try {
      if (request.type === "unsubscribe") {
        const { channel } = parseUnsubscribe(request.body, this.#deps.limits);
        this.#rooms.leave(ws, channel);
        peer.subs.delete(channel);
        peer.access.channels.delete(channel);
        return this.#send(ws, { type: "unsubscribed", id, channel });
      }
      if (request.type === "refresh") {
        const { expiresAt, revoked } = await peer.access.refresh(request.body.token);
        for (const channel of revoked) {
          this.#rooms.leave(ws, channel);
          peer.subs.delete(channel);
        }
        return this.#send(ws, { type: "refreshed", id, expiresAt, revoked });
      }
      await this.#subscribe(ws, peer, id, request.body);
    } catch (err) {
      this.#send(ws, { type: "error", id, error: errorReply(err).error });
    }
  }

  async #subscribe(ws: WebSocket, peer: Peer, id: WsRequestId, body: Record<string, unknown>): Promise<void> {
    const { channel, since } = parseSubscribe(body, this.#deps.limits);
    const { tail } = this.#deps;
    if (!tail.ready()) {
      throw notReady();
    }
    peer.access.admit(channel);
    // A repeated subscribe starts over: leave first, so a replay never doubles the live stream.
    this.#rooms.leave(ws, channel);
    const token = Symbol(channel);
    peer.subs.set(channel, token);
    const current = () => ws.readyState === WebSocket.OPEN && peer.subs.get(channel) === token;
    const join = () => {
      if (!current()) return;
      peer.access.channels.add(channel);
      this.#rooms.join(ws, channel);
    };
    let outcome: { recovered: boolean; position: Position };
    if (since === null) {
      join();
      outcome = { recovered: true, position: tail.position() };
    } else {
      outcome = await replayThenJoin(await this.#deps.bus(), channel, since, tail, {
        emit: (envelope) => {
          if (current()) ws.send(JSON.stringify({ type: "message", ...envelope }));
        },
        join,
        connected: current,
      });
      if (!current()) {
        throw new TailcastError(
          ErrorCode.invalidRequest,
          "Cancelled by a later request for the same channel.",
        );
      }
      if (!outcome.recovered)
        this.#deps.log.info("subscriber could not be fully recovered", { channel, since });
    }
    const { offset, epoch } = outcome.position;
    this.#send(ws, { type: "subscribed", id, channel, offset, epoch, recovered: outcome.recovered });
  }
}

export function attachWs(http: HttpServer, deps: WsDeps): WsEndpoint {
  return new WsEndpoint(http, deps);
}
