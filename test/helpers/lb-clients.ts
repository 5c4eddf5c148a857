/**
 * The subscribers of the load balancer tests, all pointed at the balancer's one address: recording
 * Socket.IO clients (WebSocket, long-polling, polling upgraded to WebSocket) that the test resumes by
 * hand, tailcast clients (/ws and Socket.IO) that resume by themselves, and bare /ws sockets. Each
 * kind can say whether it holds exactly the acknowledged sequence of its channels.
 */
import { WebSocket as WsWebSocket } from "ws";
import type { Client, Envelope } from "../../client/index.ts";
import { createClient } from "../../client/index.ts";
import type { Position } from "../../shared/offsets.ts";
import { type Receipt, receiptsOf, sequenceProblems } from "./guarantees.ts";
import { RecordingClient, type Transport } from "./recording-client.ts";

/** A tailcast client (`tailcast/client`) that records what it delivers. */
export class RecordedTailcastClient {
  readonly received = new Map<string, Envelope[]>();
  /** Position of each channel's first subscribe: its sequence starts after it. */
  readonly firstAck = new Map<string, Position>();
  readonly unrecovered: string[] = [];
  readonly gaps: string[] = [];
  readonly client: Client;

  constructor(
    readonly name: string,
    url: string,
    transport: "ws" | "socket.io",
  ) {
    this.client = createClient({
      urls: [url],
      transport,
      // Node 20 has no global WebSocket.
      WebSocket: WsWebSocket as unknown as typeof WebSocket,
      backoff: { initialMs: 50, maxMs: 500 },
      timeoutMs: 10_000,
    });
    this.client.on("subscribed", (s) => {
      if (!this.firstAck.has(s.channel)) this.firstAck.set(s.channel, s.position);
      if (!s.recovered) this.unrecovered.push(s.channel);
    });
    this.client.on("gap", (g) => this.gaps.push(JSON.stringify(g)));
  }

  /** Subscribes; resolves once the node acknowledged. */
  subscribe(channel: string): Promise<void> {
    const acked = new Promise<void>((resolve) => {
      const off = this.client.on("subscribed", (s) => {
        if (s.channel !== channel) return;
        off();
        resolve();
      });
    });
    this.received.set(channel, []);
    this.client.subscribe(channel, (m) => this.received.get(channel)?.push(m));
    return acked;
  }

  ids(): Set<string> {
    return new Set([...this.received.values()].flat().map((m) => m.id));
  }

  problems(receipts: Receipt[]): string[] {
    const out = [...this.gaps.map((g) => `gap ${g}`), ...this.unrecovered.map((c) => `unrecovered ${c}`)];
    for (const [channel, got] of this.received) {
      const from = this.firstAck.get(channel)?.offset ?? -1;
      const expected = receiptsOf(receipts, channel).filter((r) => r.offset > from);
      out.push(...sequenceProblems(got, expected).map((p) => `${channel}: ${p}`));
    }
    return out;
  }

  close(): void {
    this.client.close();
  }
}

/** A recording Socket.IO client; with polling it keeps the balancer's affinity cookie. */
export function recording(name: string, transports: Transport[]): RecordingClient {
  return new RecordingClient(name, ["message", "chat"], transports);
}

/** What a recording client holds against what was acknowledged, per channel it subscribed. */
export function recordingProblems(c: RecordingClient, receipts: Receipt[]): string[] {
  const out = [...c.anomalies];
  for (const channel of c.channels()) {
    const first = c.acks.find((a) => a.channel === channel);
    const from = first?.ack.offset ?? -1;
    const expected = receiptsOf(receipts, channel).filter((r) => r.offset > from);
    for (const a of c.acks.filter((x) => x.channel === channel && !x.ack.recovered)) {
      out.push(`${channel}: resume from ${JSON.stringify(a.since)} not recovered`);
    }
    out.push(...sequenceProblems(c.of(channel), expected).map((p) => `${channel}: ${p}`));
  }
  return out;
}

/** A bare /ws connection through `url`; resolves once open. */
export async function openWs(url: string): Promise<WsWebSocket> {
  const ws = new WsWebSocket(`${url.replace(/^http/, "ws")}/ws`);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return ws;
}
