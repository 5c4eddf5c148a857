/**
 * The graceful drain of a tailer node (README "Drain"), started by SIGTERM (main.ts) or POST
 * /admin/drain (admin.ts): from the first moment the node is not ready and refuses new connections
 * with the drain signal (shared/protocol/drain-signal.ts); its connections are told to move, spread
 * over the window (drain-plan.ts); when the window is over the node stops (the tail, then the
 * servers). The state is readable for /stats and metrics.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { DrainConfig } from "../shared/config.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { dueBy, tellAt } from "./drain-plan.ts";

/** A connection that can be told to move (a subscriber session, either transport). */
export interface Movable {
  /** Sends the drain signal and closes; true if it went out (false: already told, or not connected). */
  moveOn(): boolean;
}

export interface DrainDeps {
  config: DrainConfig;
  /** The node's connections right now, on both transports. */
  connections: () => Iterable<Movable>;
  /** Stops the node once the window is over (node.ts: the tail, then the servers). */
  stop: () => Promise<void>;
  log: Logger;
}

/** What /stats shows under `draining` (null while the node is not draining). */
export interface DrainState {
  /** ISO time the drain began. */
  since: string;
  /** Connections the node had when the drain began. */
  clients: number;
  /** Of those, how many are still to be told to move. */
  remaining: number;
}

const draining = () =>
  new TailcastError(ErrorCode.nodeDraining, "This node is draining: connect to another node.", {
    retryAfter: 1,
  });

export class NodeDrain {
  readonly #deps: DrainDeps;
  #since: Date | null = null;
  #clients = 0;
  #told = 0;
  #run: Promise<void> | undefined;

  constructor(deps: DrainDeps) {
    this.#deps = deps;
  }

  get draining(): boolean {
    return this.#since !== null;
  }

  state(): DrainState | null {
    if (this.#since === null) return null;
    return {
      since: this.#since.toISOString(),
      clients: this.#clients,
      remaining: this.#clients - this.#told,
    };
  }

  /** Connection admission: throws `node_draining` once the drain has begun. */
  admit(): void {
    if (this.draining) throw draining();
  }

  /** The error /readyz answers with while draining. */
  error(): TailcastError {
    return draining();
  }

  /** Begins the drain, or joins the one under way; resolves once the node has stopped. */
  start(reason: string): Promise<void> {
    this.#run ??= this.#drain(reason);
    return this.#run;
  }

  async #drain(reason: string): Promise<void> {
    const { config, connections, stop, log } = this.#deps;
    this.#since = new Date();
    const began = performance.now();
    const elapsed = () => performance.now() - began;
    // Newcomers are refused from here on (admit), so this list is everyone but a connection admitted a
    // moment ago that is still being set up: the sweep after the window tells those.
    const queue = [...connections()];
    this.#clients = queue.length;
    log.info("draining", { reason, clients: queue.length, windowMs: config.windowMs });
    while (this.#told < queue.length) {
      const due = dueBy(elapsed(), this.#told, queue.length, config.windowMs);
      for (; this.#told < due; this.#told++) queue[this.#told]?.moveOn();
      if (this.#told < queue.length) {
        await delay(Math.max(1, tellAt(this.#told, queue.length, config.windowMs) - elapsed()));
      }
    }
    // A timer is due against the event loop's cached clock, so it can fire a little before `elapsed()`
    // says the window is over: wait again until it is.
    for (let rest = config.windowMs - elapsed(); rest > 0; rest = config.windowMs - elapsed()) {
      await delay(Math.ceil(rest));
    }
    let late = 0;
    for (const connection of connections()) if (connection.moveOn()) late++;
    log.info("drain window over; stopping", { told: this.#told, late });
    await stop();
  }
}
