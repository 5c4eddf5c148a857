/**
 * The drain signal (README "Drain"): how a tailer that is going away tells a client to reconnect to
 * another node at once. Shared by the node (tailer/ws.ts, tailer/socketio.ts) and the client.
 */

/** Error code of the signal: the Socket.IO event's payload, and `connect_error`'s `data.code` for a refused handshake. */
export const DRAINING_CODE = "node_draining";

/** `/ws` close code (1012 is "Service Restart" in the IANA registry of WebSocket close codes) and reason. */
export const DRAIN_CLOSE_CODE = 1012;
export const DRAIN_CLOSE_REASON = "node draining";

/** Socket.IO event the node emits before it disconnects the socket (a reserved event name: shared/message.ts). */
export const DRAINING_EVENT = "tailcast:draining";

/** The Socket.IO event's payload. */
export interface DrainingNotice {
  code: typeof DRAINING_CODE;
}

export const drainingNotice: Readonly<DrainingNotice> = Object.freeze({ code: DRAINING_CODE });
