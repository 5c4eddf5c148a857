/**
 * Plain WebSocket on the tailer (README "WebSocket"), a thin adapter: path `/ws` on the node's own
 * HTTP server, JSON text frames in and out; what a request does is the session's (session.ts).
 *
 * Close codes: 1000 normal; 1001 this node is shutting down (reconnect anywhere, with `since`); 1012
 * this node is draining (reconnect to another node now; also how a connection is refused during a
 * drain, README "Drain"); 1007
 * a text frame that is not UTF-8 and 1009 a frame over `maxPayload` (both sent by `ws`); 1008 no valid
 * token at connect or a token expired without refresh (after an `unauthorized` / `token_expired` error
 * frame); 1011 an unexpected failure here; 4008 a slow consumer (slow-consumer.ts). A peer that misses a
 * heartbeat is dropped (the client sees 1006).
 */
import type { Server as HttpServer, IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { ErrorCode, isTailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { ignoreError } from "../shared/promises.ts";
import { DRAIN_CLOSE_CODE, DRAIN_CLOSE_REASON } from "../shared/protocol/drain-signal.ts";
import { PRESENCE_UPDATE_FRAME } from "../shared/protocol/presence-update.ts";
import { type ErrorNotice, errorReplyOf } from "../shared/protocol/replies.ts";
import {
  parseWsFrame,
  toWsFrame,
  WsFrameError,
  type WsRequest,
  type WsServerFrame,
} from "../shared/protocol/ws-frames.ts";
import { originAllowed } from "./access.ts";
import { type Fanout, WsFanout } from "./fanout.ts";
import type { SessionTransport, SubscriberSession } from "./session.ts";
import type { SubscriberSessions } from "./sessions.ts";
import type { SlowConsumers } from "./slow-consumer.ts";
import { checkWs, wsConnection } from "./slow-consumer-io.ts";
import { frameText, pathnameOf, tokenOf } from "./ws-upgrade.ts";

export const WS_PATH = "/ws";

/** Closing after an `error` notice: the client may not go on as it was (README "WebSocket"). */
const POLICY_VIOLATION = 1008;

export interface WsOptions {
  /** How often the server pings; a peer that has not ponged since the previous ping is dropped. */
  heartbeatMs: number;
  /** Largest frame accepted; a bigger one closes the connection with 1009. */
  maxPayload: number;
  /** Upgrade paths someone else on this HTTP server handles (engine.io's), left alone. */
  foreignPrefixes: string[];
  /** How long shutdown waits for peers to answer the 1001 close before cutting them off. */
  closeGraceMs: number;
}

export const defaultWsOptions: Readonly<WsOptions> = Object.freeze({
  heartbeatMs: 25_000,
  maxPayload: 64 * 1024,
  foreignPrefixes: ["/socket.io/"],
  closeGraceMs: 1000,
});

export interface WsDeps {
  sessions: SubscriberSessions;
  allowedOrigins: string[];
  /** The outbound-buffer bound each socket is held to. */
  slowConsumers: SlowConsumers;
  log: Logger;
  options?: Partial<WsOptions>;
}

interface Peer {
  alive: boolean;
  session: SubscriberSession;
}

/** The /ws endpoint of one node; also the fan-out to its sockets. */
export class WsEndpoint {
  readonly #wss: WebSocketServer;
  readonly #deps: WsDeps;
  readonly #options: WsOptions;
  readonly #peers = new Map<WebSocket, Peer>();
  readonly #rooms: WsFanout;
  readonly #heartbeat: NodeJS.Timeout;
  #closing = false;

  constructor(http: HttpServer, deps: WsDeps) {
    this.#deps = deps;
    this.#options = { ...defaultWsOptions, ...deps.options };
    const slow = deps.slowConsumers;
    this.#rooms = new WsFanout({
      maxPendingBytes: slow.maxPendingBytes,
      over: (ws) => slow.suspect(wsConnection(ws)),
    });
    // No compression: the fan-out sends one pre-built frame to every socket (fanout.ts).
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#options.maxPayload,
      perMessageDeflate: false,
    });
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
      refuseUpgrade(socket, "403 Forbidden");
    } else if (pathnameOf(url) !== WS_PATH || this.#closing) {
      // Nobody else handles this upgrade (engine.io runs with destroyUpgrade: false): answer and hang up.
      refuseUpgrade(socket, this.#closing ? "503 Service Unavailable" : "404 Not Found");
    } else {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit("connection", ws, req));
    }
  }

  #transport(ws: WebSocket): SessionTransport {
    // Written out once `ws` calls back for the latest frame this transport sent: socket writes complete
    // in order, so everything queued before that frame has left too.
    let written: Promise<void> = Promise.resolve();
    return {
      emit: (envelope) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        written = new Promise((resolve) =>
          ws.send(WsFanout.encode(envelope), { binary: false }, () => resolve()),
        );
        checkWs(this.#deps.slowConsumers, ws);
      },
      drained: () => wsDrained(ws, written),
      pending: () => ws.bufferedAmount,
      join: (channel) => this.#rooms.join(ws, channel),
      leave: (channel) => this.#rooms.leave(ws, channel),
      connected: () => ws.readyState === WebSocket.OPEN,
      disconnect: (notice: ErrorNotice) => {
        this.#send(ws, { type: "error", id: null, error: notice });
        ws.close(POLICY_VIOLATION, "policy violation");
      },
      gap: (notice) => this.#send(ws, { type: "gap", ...notice }),
      presenceUpdate: (update) => this.#send(ws, { type: PRESENCE_UPDATE_FRAME, ...update }),
      moveOn: () => {
        if (ws.readyState !== WebSocket.OPEN) return false;
        ws.close(DRAIN_CLOSE_CODE, DRAIN_CLOSE_REASON);
        return true;
      },
    };
  }

  /**
   * The token comes as `?token=` (browsers cannot set headers on a WebSocket) or an Authorization
   * header. A refusal is an error frame then 1008, which a browser can read, unlike an HTTP 401.
   */
  async #accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    let log = this.#deps.log;
    ws.on("error", (err) => log.debug("ws peer error", { err }));
    // Frames sent right after the handshake arrive while the token is being checked: keep them, or
    // `ws` would emit them to no listener and a client's first subscribe would vanish.
    const early: Array<[RawData, boolean]> = [];
    const hold = (data: RawData, isBinary: boolean) => early.push([data, isBinary]);
    ws.on("message", hold);
    const transport = this.#transport(ws);
    let session: SubscriberSession;
    try {
      session = await this.#deps.sessions.connect(
        req.socket.remoteAddress ?? "unknown",
        tokenOf(req),
        transport,
      );
    } catch (err) {
      // A draining node refuses with the drain signal itself, so the client moves on at once.
      if (isTailcastError(err) && err.code === ErrorCode.nodeDraining) return void transport.moveOn();
      return transport.disconnect(errorReplyOf(err).error);
    }
    if (ws.readyState !== WebSocket.OPEN) return session.close();
    log = session.log;
    wsConnection(ws).log = log; // a slow-consumer cut is logged with this connection's id
    log.debug("client connected", { transport: "ws", sub: session.subject });
    const peer: Peer = { alive: true, session };
    this.#peers.set(ws, peer);
    ws.on("pong", () => {
      peer.alive = true;
    });
    ws.on("close", () => {
      this.#peers.delete(ws);
      session.close();
    });
    const handle = (data: RawData, isBinary: boolean) => {
      this.#handle(ws, session, data, isBinary).catch((err: unknown) => {
        log.error("ws request failed", { err });
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
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(frame));
    checkWs(this.#deps.slowConsumers, ws);
  }

  async #handle(ws: WebSocket, session: SubscriberSession, data: RawData, isBinary: boolean): Promise<void> {
    let request: WsRequest;
    try {
      request = parseWsFrame(frameText(data, isBinary));
    } catch (err) {
      const id = err instanceof WsFrameError ? err.id : null;
      return this.#send(ws, { ...errorReplyOf(err), id });
    }
    this.#send(ws, toWsFrame(await session.handle(request.type, request.body), request.id));
  }
}

/**
 * Resolves once `written` has (the frames sent so far are out of `ws`'s and the socket's buffers:
 * `bufferedAmount` counts both), or at once if nothing is buffered, or when the connection closes.
 * The send callback is used rather than the socket's `drain`, which fires only after a write went past
 * the socket's high-water mark.
 */
function wsDrained(ws: WebSocket, written: Promise<void>): Promise<void> {
  if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      ws.off("close", done);
      resolve();
    };
    ws.once("close", done);
    void written.then(done);
  });
}

function refuseUpgrade(socket: Duplex, status: string): void {
  socket.on("error", ignoreError); // answered and hung up on: a reset from the peer changes nothing
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
}

export function attachWs(http: HttpServer, deps: WsDeps): WsEndpoint {
  return new WsEndpoint(http, deps);
}
