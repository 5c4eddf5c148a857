/** Raw HTTP/1.1 over a socket, for tests that need what fetch hides (interim responses, the connection). */
import type { Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads HTTP/1.1 responses with a Content-Length off a raw socket, one `next()` per response. */
export function responseReader(socket: Socket): { next(): Promise<RawResponse> } {
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let closed = false;
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  socket.on("close", () => {
    closed = true;
    wake?.();
  });
  const parse = (): RawResponse | null => {
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const [statusLine = "", ...lines] = buffered.subarray(0, end).toString("latin1").split("\r\n");
    const headers = Object.fromEntries(
      lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
    );
    const length = Number(headers["content-length"] ?? 0);
    if (buffered.length < end + 4 + length) return null;
    const body = buffered.subarray(end + 4, end + 4 + length).toString("utf8");
    buffered = buffered.subarray(end + 4 + length);
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  };
  return {
    async next() {
      for (;;) {
        const res = parse();
        if (res) return res;
        if (closed) throw new Error("connection closed before a whole response arrived");
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
