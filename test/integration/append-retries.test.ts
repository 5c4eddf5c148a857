/**
 * The writer's retries as the ingest's metrics show them, against the real database (README "Metrics"):
 * an insert that loses its offset to another ingest process counts one offset conflict and one
 * `offset_conflict` retry, and a bus dropped under a running process counts one `bus_reset` retry.
 *
 * The lost race is made, not waited for: an in-process runtime (functions/runtime.ts, the wiring every
 * entry uses) whose bus collection lets a real second ingest process publish between the writer's read
 * of the newest offset and its insert. The unique offset index, the duplicate-key error, the writer's
 * retry and the metric are the real ones.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createIngestRuntime, type IngestRuntime } from "../../functions/runtime.ts";
import type { Component } from "../../infra/local/component.ts";
import { parseExposition, type Sample, sampleSum } from "../helpers/metrics-text.ts";
import {
  componentEnv,
  type Published,
  post,
  publish,
  startFunctions,
  stopAll,
  testDbName,
  withDb,
} from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
const started: Component[] = [];
let runtime: IngestRuntime | undefined;

beforeAll(async () => {
  started.push(await startFunctions({ db }));
});

afterAll(async () => {
  await runtime?.buses.close();
  await stopAll(started);
});

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

async function scrapeApp(rt: IngestRuntime): Promise<Sample[]> {
  const res = await rt.app.request("/metrics");
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

const count = (s: Sample[], name: string, labels: Record<string, string> = {}) => sampleSum(s, name, labels);

async function publishTo(rt: IngestRuntime, channel: string, data: unknown): Promise<Published> {
  const res = await rt.app.request(`/v1/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ data }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe("append retries in the ingest's metrics (real database)", () => {
  it("counts an insert that lost its offset to another ingest process: one conflict, one retry", async () => {
    const rival = started[0] as Component;
    // Its own log lines (the auth-off warning) would only add noise here.
    const rt = createIngestRuntime({ ...componentEnv({ db }), TAILCAST_LOG_LEVEL: "error" });
    runtime = rt;
    const warm = await publishTo(rt, "race", "warm");
    expect(warm.status).toBe(201);

    // The writer reads the newest offset N, then inserts N+1: the rival publishes first, claiming N+1.
    const bus = await rt.bus();
    const insertMany = bus.insertMany.bind(bus);
    let rivalReceipt: Published | undefined;
    bus.insertMany = (async (...args: Parameters<typeof insertMany>) => {
      rivalReceipt ??= await publish(rival, "race", "rival");
      return insertMany(...args);
    }) as typeof bus.insertMany;

    const ours = await publishTo(rt, "race", "ours");
    expect(rivalReceipt?.status).toBe(201);
    const warmOffset = warm.body.offset as number;
    expect(rivalReceipt?.body.offset).toBe(warmOffset + 1);
    expect(ours).toMatchObject({ status: 201, body: { offset: warmOffset + 2 } });

    const s = await scrapeApp(rt);
    expect(count(s, "tailcast_offset_conflicts_total", { bus: "0" })).toBe(1);
    expect(count(s, "tailcast_append_retries_total", { bus: "0", reason: "offset_conflict" })).toBe(1);
    expect(count(s, "tailcast_append_retries_total", { bus: "0", reason: "bus_reset" })).toBe(0);
    expect(count(s, "tailcast_messages_appended_total", { bus: "0" })).toBe(2);
    // The rival wrote at once, with nothing to retry.
    const r = await scrape(rival.url);
    expect(count(r, "tailcast_offset_conflicts_total")).toBe(0);
    expect(count(r, "tailcast_append_retries_total")).toBe(0);
    expect(count(r, "tailcast_messages_appended_total")).toBe(1);
  });

  it("counts a bus dropped under a running process as one bus_reset retry, and the publish succeeds", async () => {
    const c = await startFunctions({ db: `${db}_reset` });
    started.push(c);
    const first = await publish(c, "reset", "before");
    expect(first.status).toBe(201);
    await withDb(uri, (client) => client.db(`${db}_reset`).dropCollection("bus"));

    const second = await post(`${c.url}/v1/channels/reset/messages`, { data: "after" });
    expect(second.status).toBe(201);
    // Set up again: a new epoch.
    expect(second.body.epoch).not.toBe(first.body.epoch);
    const s = await scrape(c.url);
    expect(count(s, "tailcast_append_retries_total", { bus: "0", reason: "bus_reset" })).toBe(1);
    expect(count(s, "tailcast_append_retries_total", { bus: "0", reason: "offset_conflict" })).toBe(0);
    expect(count(s, "tailcast_offset_conflicts_total", { bus: "0" })).toBe(0);
    expect(count(s, "tailcast_messages_appended_total", { bus: "0" })).toBe(2);
  });
});
