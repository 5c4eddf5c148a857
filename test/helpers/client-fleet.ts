/**
 * Many TypeScript clients (client/) in the test process, each recording which nodes it was on, where
 * each subscription was acknowledged, every message per channel, and any error or gap; and waits that
 * are re-checked on each client's own events (no polling), so hundreds of clients stay cheap.
 */
import { WebSocket as WsWebSocket } from "ws";
import type { Client, ClientError, Envelope, Gap, TransportName } from "../../client/index.ts";
import { createClient } from "../../client/index.ts";

export interface MemberSpec {
  transport: TransportName;
  /** Tried in this order (`pickUrl: "ordered"`), so the test decides where each client starts. */
  urls: string[];
  channels: string[];
}

export class FleetMember {
  readonly index: number;
  readonly spec: MemberSpec;
  readonly client: Client;
  /** Every `node` event: the URL and when (Date.now()). */
  readonly nodes: Array<{ url: string; at: number }> = [];
  /** Channels acknowledged per node URL. */
  readonly subscribedOn = new Map<string, Set<string>>();
  readonly received = new Map<string, Envelope[]>();
  readonly errors: ClientError[] = [];
  readonly gaps: Gap[] = [];
  readonly #changed: () => void;

  constructor(index: number, spec: MemberSpec, client: Client, changed: (m: FleetMember) => void) {
    this.index = index;
    this.spec = spec;
    this.client = client;
    this.#changed = () => changed(this);
    for (const channel of spec.channels) {
      this.received.set(channel, []);
      client.subscribe(channel, (m) => {
        this.received.get(channel)?.push(m);
        this.#changed();
      });
    }
    client.on("node", (url) => {
      this.nodes.push({ url, at: Date.now() });
      this.#changed();
    });
    client.on("subscribed", ({ url, channel }) => {
      let channels = this.subscribedOn.get(url);
      if (channels === undefined) {
        channels = new Set();
        this.subscribedOn.set(url, channels);
      }
      channels.add(channel);
      this.#changed();
    });
    client.on("error", (e) => this.errors.push(e));
    client.on("gap", (g) => this.gaps.push(g));
  }

  /** The node it is on now (the last `node` event), or null. */
  get node(): string | null {
    return this.nodes.at(-1)?.url ?? null;
  }

  /** On `url`, with every channel acknowledged there. */
  settledOn(url: string): boolean {
    const acked = this.subscribedOn.get(url);
    return this.node === url && acked !== undefined && this.spec.channels.every((c) => acked.has(c));
  }

  /** The last offset received on `channel`, or -1. */
  lastOffset(channel: string): number {
    return this.received.get(channel)?.at(-1)?.offset ?? -1;
  }
}

interface Waiter {
  /** Members the condition holds for (it must stay true once true). */
  done: Set<FleetMember>;
  check(m: FleetMember): void;
}

export class ClientFleet {
  readonly members: FleetMember[] = [];
  readonly #waiters = new Set<Waiter>();

  constructor(
    specs: MemberSpec[],
    options: { timeoutMs: number; backoff: { initialMs: number; maxMs: number } },
  ) {
    for (const [i, spec] of specs.entries()) {
      const client = createClient({
        urls: spec.urls,
        pickUrl: "ordered",
        transport: spec.transport,
        // Node 20 has no global WebSocket.
        WebSocket: WsWebSocket as unknown as typeof WebSocket,
        timeoutMs: options.timeoutMs,
        backoff: options.backoff,
      });
      this.members.push(new FleetMember(i, spec, client, (m) => this.#recheck(m)));
    }
  }

  /**
   * Resolves once `holds` is true of every member; `holds` must stay true once it is (it is re-checked
   * only on that member's events). Rejects after `timeoutMs`, saying how many are not there yet.
   */
  waitAll(what: string, holds: (m: FleetMember) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        done: new Set(),
        check: (m) => {
          if (waiter.done.has(m) || !holds(m)) return;
          waiter.done.add(m);
          if (waiter.done.size === this.members.length) finish();
        },
      };
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const missing = this.members.filter((m) => !waiter.done.has(m));
        const sample = missing.slice(0, 3).map((m) => `#${m.index} ${m.spec.transport} on ${m.node}`);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}: ${missing.length} not yet (${sample.join(", ")})`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
      for (const m of this.members) waiter.check(m);
    });
  }

  close(): void {
    for (const m of this.members) m.client.close();
  }

  #recheck(m: FleetMember): void {
    for (const w of this.#waiters) w.check(m);
  }
}
