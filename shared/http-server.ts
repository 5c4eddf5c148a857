/**
 * A Node HTTP server for a fetch-style app, whose every refusal has the standard error shape
 * (README "HTTP") — also the two that never reach the app: a request Node's parser rejects (bad bytes in the
 * request line, oversized headers) and one @hono/node-server cannot turn into a `Request` (a malformed
 * URL or Host), which its own `serve()` answers with a bare 400.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import { type ErrorCode as Code, ErrorCode, errorBody, TailcastError } from "./errors.ts";

type Fetch = (request: Request) => Response | Promise<Response>;

const MALFORMED = "Malformed HTTP request (request line, URL or headers).";

function errorJson(code: Code, message: string): string {
  return JSON.stringify(errorBody(new TailcastError(code, message)));
}

function malformed(): Response {
  return new Response(errorJson(ErrorCode.invalidRequest, MALFORMED), {
    status: 400,
    headers: { "content-type": "application/json", connection: "close" },
  });
}

function refuseUnparsable(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Bytes after a request the app is still answering (more than its Content-Length said): let that
  // response finish, then hang up — a second response would be read as the answer to the next request.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight) {
    if (!inFlight.headersSent) inFlight.shouldKeepAlive = false;
    inFlight.once("finish", () => socket.end());
    return;
  }
  if (!socket.writable || err.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const [status, reason, body] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [
          431,
          "Request Header Fields Too Large",
          errorJson(ErrorCode.headersTooLarge, "Request headers are too large."),
        ]
      : [400, "Bad Request", errorJson(ErrorCode.invalidRequest, MALFORMED)];
  // A HEAD request gets no body, even when its request line is broken: the client would read one as junk.
  const { rawPacket, bytesParsed } = err as NodeJS.ErrnoException & {
    rawPacket?: Buffer;
    bytesParsed?: number;
  };
  const head = rawPacket !== undefined && isHead(rawPacket, bytesParsed ?? rawPacket.length);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? "" : body}`,
  );
}

/**
 * How much of a request body the app did not read (a 413 answered from Content-Length, an early 4xx) is
 * read and thrown away after the response. Closing with unread bytes makes the kernel reset the
 * connection, and a client still writing its body then loses the response (EPIPE) instead of reading
 * it. Past this bound the connection is cut.
 */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Was the request whose line failed to parse (at `parsed`) a HEAD? Usually its packet starts with it. A
 * packet can also start with the tail of a body read before (one discarded after an early answer, see
 * below): then the failing request line is the last "HEAD " before the error with nothing but URL
 * characters between them.
 */
function isHead(raw: Buffer, parsed: number): boolean {
  const start = raw.toString("latin1", 0, 16);
  if (/^[A-Z]+ /.test(start)) return start.startsWith("HEAD ");
  const at = raw.lastIndexOf("HEAD ", parsed);
  return at >= 0 && !/\s/.test(raw.toString("latin1", at + 5, parsed));
}

function discardUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let left = DISCARD_LIMIT_BYTES;
  // The app's body stream pauses the request once its queue is full: detach it and read to the end.
  req.removeAllListeners("data");
  req.on("data", (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) req.socket.destroy();
  });
  req.resume();
}

export function createHttpServer(fetch: Fetch): Server {
  // autoCleanupIncoming off: the adapter's own cleanup gives up after 500 ms and closes the socket
  // mid-body, which is the reset described above.
  const listener = getRequestListener(fetch, {
    errorHandler: async () => malformed(),
    autoCleanupIncoming: false,
  });
  const server = createServer((req, res) => {
    res.once("finish", () => discardUnreadBody(req));
    void listener(req, res);
  });
  server.on("clientError", refuseUnparsable);
  return server;
}
