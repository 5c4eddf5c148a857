/**
 * Raw HTTP for fuzzing: node:http instead of fetch, so a request goes out exactly as generated (paths
 * with `..`, backslashes and bad escapes unnormalized, any body bytes, chunked or with a length), and a
 * bounded pool that keeps a fixed number of requests in flight.
 */
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import type { Socket } from "node:net";

export interface RawRequest {
  method: string;
  /** Path and query, sent as is (node:http refuses only characters outside \x21-\xff). */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  /** Send the body with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked: boolean;
}

export type RawResult =
  | { ok: true; status: number; headers: IncomingHttpHeaders; body: Buffer; ms: number }
  | {
      ok: false;
      error: string;
      ms: number;
      /** The request before this one on the same keep-alive connection, if the connection was reused. */
      previousOnConnection: string | null;
    };

export interface RawSender {
  /** `label` names the request in later diagnostics (see `previousOnConnection`). */
  send(req: RawRequest, label?: string): Promise<RawResult>;
  close(): void;
}

export function rawSender(baseUrl: string, options: { maxSockets: number; timeoutMs: number }): RawSender {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const lastOnSocket = new WeakMap<Socket, string>();
  return {
    send: (req, label = `${req.method} ${req.path.slice(0, 80)}`) =>
      new Promise<RawResult>((resolve) => {
        const started = performance.now();
        const ms = () => Math.round(performance.now() - started);
        let previous: string | null = null;
        const headers: Record<string, string> = { ...req.headers };
        // Framing is explicit: node:http would send a GET's body unframed, which is not HTTP at all.
        if (req.body !== null && !req.chunked) headers["content-length"] = String(req.body.byteLength);
        if (req.body !== null && req.chunked) headers["transfer-encoding"] = "chunked";
        let out: ReturnType<typeof request>;
        try {
          out = request({
            agent,
            host: url.hostname,
            port: url.port,
            method: req.method,
            path: req.path,
            headers,
            timeout: options.timeoutMs,
          });
        } catch (err) {
          resolve({
            ok: false,
            error: `client refused to send: ${(err as Error).message}`,
            ms: ms(),
            previousOnConnection: null,
          });
          return;
        }
        let settled = false;
        const done = (r: RawResult) => {
          if (settled) return;
          settled = true;
          resolve(r);
        };
        const sent = `${label} (${req.body?.byteLength ?? 0} body bytes)`;
        out.on("socket", (socket: Socket) => {
          previous = out.reusedSocket ? (lastOnSocket.get(socket) ?? "unknown") : null;
          lastOnSocket.set(socket, `${sent} -> no response`);
          out.once("response", (res) => {
            lastOnSocket.set(socket, `${sent} -> ${res.statusCode} (Connection: ${res.headers.connection})`);
          });
        });
        out.on("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            done({
              ok: true,
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              ms: ms(),
            }),
          );
          res.on("error", (err) =>
            done({ ok: false, error: `response: ${err.message}`, ms: ms(), previousOnConnection: previous }),
          );
        });
        out.on("timeout", () => {
          out.destroy(new Error(`no response within ${options.timeoutMs} ms`));
        });
        // A server may answer (413, 415) before reading the whole body and close: the answer counts.
        out.on("error", (err) =>
          done({ ok: false, error: err.message, ms: ms(), previousOnConnection: previous }),
        );
        if (req.body !== null && req.body.byteLength > 0) out.write(req.body);
        out.end();
      }),
    close: () => agent.destroy(),
  };
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight; results in item order. */
export async function runPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
