/**
 * Stopping a Node ingest process without losing an acknowledgement (README "Drain"). From `drain()`:
 *
 *   1. every new request, `/readyz` included, is answered 503 `node_draining` + Retry-After
 *      (middleware/draining.ts) and every response carries `Connection: close`, so keep-alive clients
 *      leave and a load balancer stops sending here;
 *   2. the requests already received run to the end and their responses are sent (a 201 only once the
 *      bus acknowledged it), and the writer answers every group it holds (BusWriter.idle);
 *   3. the listener closes, idle keep-alive connections are closed, the 503s still being sent finish,
 *      and connections with no request in progress (idle, or headers never completed) are cut;
 *   4. the database client closes. The caller then exits; it also bounds all of this with
 *      TAILCAST_DRAIN_TIMEOUT_MS (functions/node.ts).
 */
import type { Server, ServerResponse } from "node:http";
import type { Logger } from "../shared/log.ts";

export interface DrainSteps {
  /** Resolves once the writer has nothing queued or being written. */
  writerIdle: () => Promise<void>;
  /** Closes the database client. */
  closeDatabase: () => Promise<void>;
  log: Logger;
}

/** A response that is not yet under way ends its connection once sent. */
function closeAfter(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader("connection", "close");
}

export class IngestDrain {
  #draining = false;
  /** Responses under way, each with the promise of its end (sent, or its connection gone). */
  readonly #open = new Map<ServerResponse, Promise<void>>();
  #server: Server | undefined;

  /** True from the start of `drain()`: the app answers 503 `node_draining` (functions/app.ts). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Requests answered now (received, response not yet sent). */
  get inFlight(): number {
    return this.#open.size;
  }

  /** Follows every request of `server`, so a drain knows which are under way. */
  track(server: Server): void {
    this.#server = server;
    server.on("request", (_req, res: ServerResponse) => {
      if (this.#draining) closeAfter(res);
      const ended = new Promise<void>((resolve) => res.once("close", resolve));
      this.#open.set(res, ended);
      void ended.then(() => this.#open.delete(res));
    });
  }

  /** Runs steps 1–4 above; resolves when the process may exit. */
  async drain(steps: DrainSteps): Promise<void> {
    const server = this.#server;
    if (!server) throw new Error("IngestDrain.track(server) was not called");
    const started = performance.now();
    this.#draining = true;
    const received = [...this.#open];
    for (const [res] of received) closeAfter(res);
    steps.log.info("draining", { inFlight: received.length });
    await Promise.all(received.map(([, ended]) => ended));
    await steps.writerIdle();
    // Node also closes idle keep-alive connections on close(); said here, since they must not hold us.
    server.close();
    server.closeIdleConnections();
    while (this.#open.size > 0) await Promise.all(this.#open.values());
    server.closeAllConnections();
    await steps.closeDatabase();
    steps.log.info("drained", { answered: received.length, ms: Math.round(performance.now() - started) });
  }
}
