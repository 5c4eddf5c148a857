/** Raw HTTP/1.1 over a socket, for tests that need what fetch hides (interim responses, the connection). */
import { connect, type Socket } from "node:net";

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

/** A connection to 127.0.0.1:`port`, once open. */
export async function openSocket(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return socket;
}

/**
 * A publish to the ingest function on `port` whose body is held back: its headers ask for `100
 * Continue`, which Node sends as it hands the request to the app, so once it arrives the request is
 * under way. `finish()` sends the body and resolves with the answer.
 */
export async function heldPublish(
  port: number,
  channel: string,
  data: string,
): Promise<{ socket: Socket; finish(): Promise<RawResponse> }> {
  const socket = await openSocket(port);
  const responses = responseReader(socket);
  const body = JSON.stringify({ data });
  socket.write(
    `POST /v1/channels/${channel}/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
  );
  const interim = await responses.next();
  if (interim.status !== 100)
    throw new Error(`expected 100 Continue, got ${interim.status}: ${interim.body}`);
  return {
    socket,
    finish: () => {
      socket.write(body);
      return responses.next();
    },
  };
}
