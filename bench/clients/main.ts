/**
 * A client process: opens its share of the benchmark's subscribers, then answers the runner's
 * `progress` and `report` questions about each step. Clients live apart from the servers they measure.
 */
import { childConfig, serve } from "../child.ts";
import { addDelivery, type Delivery, emptyDelivery } from "../stats.ts";
import { Recorder, type StepTotals } from "./recorder.ts";
import { type ClientSpec, type Connected, connectClient } from "./transports.ts";

export interface ClientsConfig {
  clients: ClientSpec[];
  /** Latency samples each client keeps per step. */
  samplesPerStep: number;
  /** Connections opened at once. */
  connectConcurrency: number;
}

export interface ProcessStepReport {
  delivery: Delivery;
  /** Latency samples and exact max, per node. */
  byNode: Record<string, { latencies: number[]; max: number; delivery: Delivery }>;
  deliveries: number;
  firstAt: number | null;
  lastAt: number | null;
}

const config = childConfig<ClientsConfig>();
const recorders = config.clients.map((c) => new Recorder(c.node, c.channels, config.samplesPerStep));
const connections: Connected[] = [];

async function connectAll(): Promise<{ connected: number }> {
  let next = 0;
  const worker = async () => {
    while (next < config.clients.length) {
      const i = next++;
      connections.push(await connectClient(config.clients[i] as ClientSpec, recorders[i] as Recorder));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, config.connectConcurrency) }, worker));
  return { connected: connections.length };
}

function progress({ step, totals }: { step: number; totals: StepTotals }) {
  let expected = 0;
  let delivered = 0;
  for (const r of recorders) {
    const p = r.progress(step, totals);
    expected += p.expected;
    delivered += p.delivered;
  }
  return { expected, delivered };
}

function report({ step, totals }: { step: number; totals: StepTotals }): ProcessStepReport {
  const out: ProcessStepReport = {
    delivery: emptyDelivery(),
    byNode: {},
    deliveries: 0,
    firstAt: null,
    lastAt: null,
  };
  for (const r of recorders) {
    const rep = r.report(step, totals);
    r.forget(step);
    out.delivery = addDelivery(out.delivery, rep.delivery);
    out.deliveries += rep.deliveries;
    if (rep.firstAt !== null) out.firstAt = Math.min(out.firstAt ?? rep.firstAt, rep.firstAt);
    if (rep.lastAt !== null) out.lastAt = Math.max(out.lastAt ?? rep.lastAt, rep.lastAt);
    const key = String(rep.node);
    const node = out.byNode[key] ?? { latencies: [], max: Number.NaN, delivery: emptyDelivery() };
    out.byNode[key] = node;
    for (const v of rep.latencies) node.latencies.push(v);
    if (!Number.isNaN(rep.maxLatency))
      node.max = Number.isNaN(node.max) ? rep.maxLatency : Math.max(node.max, rep.maxLatency);
    node.delivery = addDelivery(node.delivery, rep.delivery);
  }
  return out;
}

serve(
  {
    connect: connectAll,
    progress,
    report,
  },
  () => {
    for (const c of connections) c.close();
  },
);
