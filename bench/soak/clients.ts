/**
 * A soak client process. Readers are the benchmark's plain Socket.IO and /ws subscribers
 * (bench/clients/transports.ts), reported minute by minute. The slow and the reconnecting client are
 * the TypeScript client (client/), which resumes with `since`: the slow one stops reading its socket
 * for a while, over and over, so the node cuts it as a slow consumer; the reconnecting one has its
 * socket dropped every few seconds and moves to the other node. Those two are checked once, at the end:
 * what they missed while away comes later, by design.
 */
import { WebSocket } from "ws";
import { type Client, createClient } from "../../client/index.ts";
import { childConfig, nowMs, serve } from "../child.ts";
import { channelName } from "../clients/payload.ts";
import { Recorder, type StepTotals } from "../clients/recorder.ts";
import { type ClientSpec, type Connected, connectClient } from "../clients/transports.ts";
import { addDelivery, type Delivery, emptyDelivery } from "../stats.ts";
import type { ClientTotals } from "./analysis.ts";

export type SoakClientSpec =
  | { kind: "reader"; spec: ClientSpec }
  | { kind: "slow" | "reconnecting"; urls: string[]; channels: number[] };

export interface SoakClientsConfig {
  /** Prefix of the clients' names, unique across the soak's client processes. */
  name: string;
  clients: SoakClientSpec[];
  samplesPerStep: number;
  connectConcurrency: number;
  /** The slow client: stops reading for `pauseMs`, then reads for `readMs`, again and again. */
  slow: { pauseMs: number; readMs: number };
  /** The reconnecting client: its socket is dropped this often. */
  reconnectEveryMs: number;
}

export interface StepReport {
  delivery: Delivery;
  latencies: number[];
  max: number;
}

const config = childConfig<SoakClientsConfig>();

interface Tracked {
  name: string;
  kind: ClientTotals["kind"];
  recorder: Recorder;
  totals: Omit<ClientTotals, "name" | "kind">;
  close(): void;
}

const tracked: Tracked[] = [];
const timers: NodeJS.Timeout[] = [];
/** What `settle` undoes: sockets left paused read again. */
const onSettle: Array<() => void> = [];
let behaving = true;

function totals(): Tracked["totals"] {
  return {
    expected: 0,
    delivered: 0,
    duplicates: 0,
    disorders: 0,
    reconnects: 0,
    slowConsumerCuts: 0,
    gaps: 0,
  };
}

function addStep(t: Tracked, step: number, stepTotals: StepTotals): ReturnType<Recorder["report"]> {
  const rep = t.recorder.report(step, stepTotals);
  t.recorder.forget(step);
  t.totals.expected += rep.delivery.expected;
  t.totals.delivered += rep.delivery.delivered;
  t.totals.duplicates += rep.delivery.duplicates;
  t.totals.disorders += rep.delivery.disorders;
  return rep;
}

/** A TypeScript client whose sockets the soak can pause and drop. */
function tsClient(spec: Extract<SoakClientSpec, { kind: "slow" | "reconnecting" }>, index: number): Tracked {
  const sockets: WebSocket[] = [];
  class ControlledWebSocket extends WebSocket {
    constructor(address: string) {
      super(address);
      sockets.push(this);
    }
  }
  const recorder = new Recorder(-1, spec.channels, config.samplesPerStep);
  const client: Client = createClient({
    urls: spec.urls,
    transport: "ws",
    WebSocket: ControlledWebSocket as unknown as typeof globalThis.WebSocket,
    backoff: { initialMs: 100, maxMs: 2000 },
  });
  const t: Tracked = {
    name: `${config.name}-${spec.kind}-${index}`,
    kind: spec.kind,
    recorder,
    totals: totals(),
    close: () => client.close(),
  };
  let connections = 0;
  client.on("node", () => {
    if (connections++ > 0) t.totals.reconnects++;
  });
  client.on("error", ({ error }) => {
    if (error.code === "slow_consumer") t.totals.slowConsumerCuts++;
  });
  client.on("gap", () => t.totals.gaps++);
  for (const c of spec.channels) {
    client.subscribe(channelName(c), (m) => recorder.receive(m.data, m.offset, nowMs()));
  }
  const latest = () => sockets.at(-1);
  if (spec.kind === "slow") {
    onSettle.push(() => {
      for (const s of sockets) s.resume();
    });
    const cycle = () => {
      if (!behaving) return;
      latest()?.pause();
      timers.push(
        setTimeout(() => {
          for (const s of sockets) s.resume();
          if (behaving) timers.push(setTimeout(cycle, config.slow.readMs));
        }, config.slow.pauseMs),
      );
    };
    timers.push(setTimeout(cycle, config.slow.readMs));
  } else {
    timers.push(
      setInterval(() => {
        if (behaving) latest()?.terminate();
      }, config.reconnectEveryMs),
    );
  }
  return t;
}

async function connectAll(): Promise<{ connected: number }> {
  let next = 0;
  const worker = async () => {
    while (next < config.clients.length) {
      const i = next++;
      const spec = config.clients[i] as SoakClientSpec;
      if (spec.kind === "reader") {
        const recorder = new Recorder(spec.spec.node, spec.spec.channels, config.samplesPerStep);
        const conn: Connected = await connectClient(spec.spec, recorder);
        tracked.push({
          name: `${config.name}-reader-${i}`,
          kind: "reader",
          recorder,
          totals: totals(),
          close: conn.close,
        });
      } else {
        tracked.push(tsClient(spec, i));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, config.connectConcurrency) }, worker));
  return { connected: tracked.length };
}

/** One step of the readers: delivery and latency samples; each reader's totals grow. */
function report({ step, totals: stepTotals }: { step: number; totals: StepTotals }): StepReport {
  const out: StepReport = { delivery: emptyDelivery(), latencies: [], max: Number.NaN };
  for (const t of tracked) {
    if (t.kind !== "reader") continue;
    const rep = addStep(t, step, stepTotals);
    out.delivery = addDelivery(out.delivery, rep.delivery);
    for (const v of rep.latencies) out.latencies.push(v);
    if (!Number.isNaN(rep.maxLatency))
      out.max = Number.isNaN(out.max) ? rep.maxLatency : Math.max(out.max, rep.maxLatency);
  }
  return out;
}

/** Stops pausing and dropping sockets, so the slow and reconnecting clients can catch up. */
function settle(): null {
  behaving = false;
  for (const t of timers.splice(0)) clearTimeout(t);
  for (const undo of onSettle.splice(0)) undo();
  return null;
}

/** How far the slow and reconnecting clients are, over every step so far. */
function progress({ steps }: { steps: StepTotals[] }): { expected: number; delivered: number } {
  let expected = 0;
  let delivered = 0;
  for (const t of tracked) {
    if (t.kind === "reader") continue;
    for (const [step, stepTotals] of steps.entries()) {
      const p = t.recorder.progress(step, stepTotals);
      expected += p.expected;
      delivered += p.delivered;
    }
  }
  return { expected, delivered };
}

/** Every client's totals; the slow and reconnecting ones are counted over all steps now. */
function final({ steps }: { steps: StepTotals[] }): ClientTotals[] {
  for (const t of tracked) {
    if (t.kind === "reader") continue;
    for (const [step, stepTotals] of steps.entries()) addStep(t, step, stepTotals);
  }
  return tracked.map((t) => ({ name: t.name, kind: t.kind, ...t.totals }));
}

serve({ connect: connectAll, report, settle, progress, final }, () => {
  settle();
  for (const t of tracked) t.close();
});
