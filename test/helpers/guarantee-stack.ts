/**
 * The setup every guarantee test file shares: a database of its own, ingest processes and tailer nodes
 * started before the file's tests and stopped after them, and recording clients closed after them.
 * Call `guaranteeStack(import.meta.url, …)` at the top of the file: it registers its own hooks.
 */
import { afterAll, beforeAll, inject } from "vitest";
import type { Component } from "../../infra/local/component.ts";
import { RecordingClient } from "./recording-client.ts";
import { startFunctions, startTailer, stopAll, testDbName } from "./stack.ts";

export interface NodeSpec {
  nodeId: string;
  /** Added to the stack's environment for this node only. */
  env?: Record<string, string>;
}

export interface GuaranteeStackOptions {
  /** Environment of every process (bus size, tail settings). */
  env: Record<string, string>;
  /** Ingest processes, started one after the other (the first creates the bus). Default 1. */
  ingests?: number;
  tailers?: NodeSpec[];
}

export class GuaranteeStack {
  readonly db: string;
  readonly env: Record<string, string>;
  readonly ingests: Component[] = [];
  /** The tailer nodes; a test may push more, which are stopped with the rest. */
  readonly nodes: Component[] = [];
  readonly #others: Component[] = [];
  /** Every client made through the stack, in order of creation. */
  readonly clients: RecordingClient[] = [];

  constructor(file: string, options: GuaranteeStackOptions) {
    this.db = testDbName(file);
    this.env = options.env;
    const { db, env } = this;
    beforeAll(async () => {
      for (let i = 0; i < (options.ingests ?? 1); i++) this.ingests.push(await startFunctions({ db, env }));
      const tailers = options.tailers ?? [];
      this.nodes.push(
        ...(await Promise.all(
          tailers.map((t) => startTailer({ db, env: { ...env, ...t.env }, nodeId: t.nodeId })),
        )),
      );
    });
    afterAll(async () => {
      for (const c of this.clients) c.close();
      await stopAll([...this.ingests, ...this.nodes, ...this.#others]);
    });
  }

  /** The first ingest process. */
  get ingest(): Component {
    const first = this.ingests[0];
    if (first === undefined) throw new Error("the stack has no ingest process (yet)");
    return first;
  }

  /** The database server every process of the run uses. */
  uri(): string {
    return inject("mongodbUri");
  }

  /** A recording client, not connected yet, closed after the file. */
  client(name: string, events?: string[]): RecordingClient {
    const c = new RecordingClient(name, events);
    this.clients.push(c);
    return c;
  }

  /** A recording client connected to `node`. */
  async connected(name: string, node: Component): Promise<RecordingClient> {
    const c = this.client(name);
    await c.connect(node.url);
    return c;
  }

  /** A process the test started itself, stopped after the file. */
  track<C extends Component>(component: C): C {
    this.#others.push(component);
    return component;
  }
}

export function guaranteeStack(file: string, options: GuaranteeStackOptions): GuaranteeStack {
  return new GuaranteeStack(file, options);
}
