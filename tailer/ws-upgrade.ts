/** The /ws helpers that only the server needs: reading an upgrade request and a received frame. */
import type { IncomingMessage } from "node:http";
import type { RawData } from "ws";
import { bearerToken } from "../shared/auth/bearer.ts";
import { WsFrameError } from "../shared/protocol/ws-frames.ts";

/** The text of a /ws frame; binary frames are refused. */
export function frameText(data: RawData, isBinary: boolean): string {
  if (isBinary) throw new WsFrameError(null, "Frames must be JSON text, not binary.");
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return bytes.toString();
}

/** The path of an upgrade request's URL, or null when it is not a URL at all. */
export function pathnameOf(url: string): string | null {
  try {
    return new URL(url, "http://localhost").pathname;
  } catch {
    return null;
  }
}

/** A /ws token: `?token=` (browsers cannot set headers on a WebSocket) or an Authorization header. */
export function tokenOf(req: IncomingMessage): string | undefined {
  const query = new URL(req.url ?? "/", "http://localhost").searchParams.get("token");
  if (query) return query;
  return bearerToken(req.headers.authorization);
}
