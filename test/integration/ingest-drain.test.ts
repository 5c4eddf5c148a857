/**
 * An ingest process stopping on SIGTERM (functions/drain.ts, README "Drain"): requests under way are
 * answered (a 201 only for a message that is in the bus), new ones get 503 `node_draining` with
 * Retry-After or find the port closed, keep-alive connections do not hold the process, and it exits 0
 * — or 1 once TAILCAST_DRAIN_TIMEOUT_MS is over with a request still unanswered.
 */
import type { Socket } from "node:net";
import { hostname } from "node:os";
import { afterAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import type { Component } from "../../infra/local/component.ts";
import type { MessageDoc } from "../../shared/bus/doc.ts";
import { parseExposition, sampleSum } from "../helpers/metrics-text.ts";
import { heldPublish, openSocket, responseReader } from "../helpers/raw-http.ts";
import { startFunctions, stopAll, testDbName, withDb } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
const uri = inject("mongodbUri");
const started: Component[] = [];
afterAll(() => stopAll(started));

async function ingest(env: Record<string, string>): Promise<Component> {
  const c = await startFunctions({ db, env });
  started.push(c);
  return c;
}

const open = (c: Component) => openSocket(c.port);

const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once("close", () => resolve()));

/** Polls until /readyz stops answering 200: the process has taken the signal. */
async function readyzWhileDraining(c: Component): Promise<Response> {
  for (;;) {
    const res = await fetch(`${c.url}/readyz`);
    if (res.status !== 200) return res;
    await res.body?.cancel();
  }
}

/** 503 `node_draining` answers seen by expectDraining: what the ingest's metrics must have counted. */
let drainingAnswers = 0;

async function expectDraining(res: Response): Promise<void> {
  drainingAnswers++;
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("1");
  expect(res.headers.get("connection")).toBe("close");
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("node_draining");
}

async function busDocs(channel: string): Promise<MessageDoc[]> {
  return withDb(uri, (client) =>
    client
      .db(db)
      .collection<MessageDoc>("bus")
      .find({ channel }, { sort: { offset: 1 } })
      .toArray(),
  );
}

/** The `node_draining` 503s the process counted, read from its metrics port. */
async function drainingCounted(metricsPort: number): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(res.status).toBe(200);
  const samples = parseExposition(await res.text());
  return sampleSum(samples, "tailcast_unavailable_responses_total", { cause: "node_draining" });
}

describe("ingest drain on SIGTERM", () => {
  it("answers the request under way, refuses new ones with node_draining, closes keep-alive connections, exits 0", async () => {
    drainingAnswers = 0;
    const metricsPort = await freePort();
    const c = await ingest({
      TAILCAST_DRAIN_TIMEOUT_MS: "30000",
      TAILCAST_LOG_LEVEL: "info",
      TAILCAST_METRICS_PORT: String(metricsPort),
    });
    // The series is exported from the start, so a rate over it has a baseline before the first drain.
    expect(await drainingCounted(metricsPort)).toBe(0);
    // A keep-alive connection left idle after one request: it must not keep the process alive.
    const idle = await open(c);
    const idleResponses = responseReader(idle);
    idle.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const first = await idleResponses.next();
    expect(first.status).toBe(200);
    expect(first.headers.connection).not.toBe("close");
    const idleClosed = closed(idle);

    const held = await heldPublish(c.port, "drain-held", "held");
    const exited = c.kill("SIGTERM");
    await expectDraining(await readyzWhileDraining(c));
    await expectDraining(
      await fetch(`${c.url}/v1/channels/drain-held/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ data: "refused" }),
      }),
    );
    // Liveness stays true while the process drains.
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    // /metrics on the main port is refused like every request; the metrics port still answers while
    // the held publish keeps the drain going, with every node_draining answer counted.
    await expectDraining(await fetch(`${c.url}/metrics`));
    expect(drainingAnswers).toBe(3);
    expect(await drainingCounted(metricsPort)).toBe(drainingAnswers);

    const heldClosed = closed(held.socket);
    const answer = await held.finish();
    expect(answer.status).toBe(201);
    expect(answer.headers.connection).toBe("close");
    const receipt = JSON.parse(answer.body) as { id: string; offset: number };
    await heldClosed;
    await idleClosed;
    const exit = await exited;
    expect(exit).toEqual({ code: 0, signal: null });

    const docs = await busDocs("drain-held");
    expect(docs.map((d) => [d._id, d.offset, d.data])).toEqual([[receipt.id, receipt.offset, '"held"']]);
    const logged = c.output().flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    // The held publish, and perhaps the first /readyz poll, were under way when the signal came.
    const draining = logged.find((r) => r.msg === "draining");
    const drained = logged.find((r) => r.msg === "drained");
    expect(draining).toMatchObject({ component: "functions", node: `functions-${hostname()}-${c.port}` });
    expect(draining?.inFlight).toBeGreaterThanOrEqual(1);
    expect(drained?.answered).toBe(draining?.inFlight);
  });

  it("under continuous publishing from many clients: every 201 is in the bus, nothing else is, exit 0", async () => {
    const c = await ingest({ TAILCAST_DRAIN_TIMEOUT_MS: "30000", TAILCAST_LOG_LEVEL: "info" });
    const CLIENTS = 24;
    const BATCH = 5;
    const WARM_ACKS = 300;
    const acked = new Map<string, { id: string; offset: number; afterSignal: boolean }>();
    const refusedTags: string[] = [];
    const outcomes = { draining: 0, refused: 0, reset: 0, unexpected: [] as string[] };
    let signalled = false;
    let warm!: () => void;
    const warmedUp = new Promise<void>((resolve) => {
      warm = resolve;
    });

    // Odd clients publish one message per request, even ones a batch: both paths go through the writer.
    const client = async (w: number) => {
      for (let i = 0; ; i++) {
        const tags = Array.from({ length: w % 2 === 0 ? BATCH : 1 }, (_, k) => `w${w}-${i}-${k}`);
        const [path, body] =
          tags.length === 1
            ? ["/v1/channels/drain-load/messages", { data: tags[0] }]
            : ["/v1/messages", { messages: tags.map((data) => ({ channel: "drain-load", data })) }];
        try {
          const res = await fetch(`${c.url}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          const json = (await res.json()) as {
            error?: { code: string };
            id?: string;
            offset?: number;
            results?: Array<{ id: string; offset: number }>;
          };
          if (res.status === 201) {
            const receipts = json.results ?? [{ id: json.id as string, offset: json.offset as number }];
            for (const [k, tag] of tags.entries()) {
              const receipt = receipts[k] as { id: string; offset: number };
              acked.set(tag, { ...receipt, afterSignal: signalled });
            }
            if (acked.size >= WARM_ACKS) warm();
          } else if (
            res.status === 503 &&
            json.error?.code === "node_draining" &&
            res.headers.get("retry-after") === "1"
          ) {
            outcomes.draining++;
            refusedTags.push(...tags);
          } else {
            outcomes.unexpected.push(`${res.status} ${JSON.stringify(json)}`);
            refusedTags.push(...tags);
          }
        } catch (err) {
          refusedTags.push(...tags);
          const code = (err as { cause?: { code?: string } }).cause?.code;
          if (code === "ECONNREFUSED") {
            outcomes.refused++;
            return;
          }
          // A connection the server cut before reading a request on it: made as the listener closed
          // (still in its backlog), or idle when closed. Never read, so never written (checked below).
          if (code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE") outcomes.reset++;
          else outcomes.unexpected.push(`${code}: ${(err as Error).message}`);
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, w) => client(w));
    await warmedUp;
    signalled = true;
    const exit = await c.kill("SIGTERM");
    await Promise.all(clients);

    expect(exit).toEqual({ code: 0, signal: null });
    expect(outcomes.unexpected).toEqual([]);
    const ackedAfterSignal = [...acked.values()].filter((a) => a.afterSignal).length;
    // Requests under way at the signal were answered 201, and later ones were turned away.
    expect(ackedAfterSignal).toBeGreaterThan(0);
    expect(outcomes.draining + outcomes.refused).toBeGreaterThan(0);

    const docs = await busDocs("drain-load");
    const stored = new Map(docs.map((d) => [JSON.parse(d.data) as string, d]));
    const missing = [...acked].filter(
      ([tag, a]) => stored.get(tag)?._id !== a.id || stored.get(tag)?.offset !== a.offset,
    );
    expect(missing).toEqual([]);
    expect(refusedTags.filter((tag) => stored.has(tag))).toEqual([]);
    expect(docs.length).toBe(acked.size);
    const drained = c.output().find((line) => line.includes('"msg":"drained"'));
    console.info(
      `ingest-drain: ${acked.size} messages acknowledged (${ackedAfterSignal} after SIGTERM), ` +
        `${outcomes.draining} answered node_draining, ${outcomes.refused} refused, ${outcomes.reset} reset; ${drained}`,
    );
  });

  it("exits 1 once TAILCAST_DRAIN_TIMEOUT_MS is over with a request still unanswered", async () => {
    const c = await ingest({ TAILCAST_DRAIN_TIMEOUT_MS: "1000" });
    const held = await heldPublish(c.port, "drain-stuck", "never sent");
    const exit = await c.kill("SIGTERM");
    expect(exit).toEqual({ code: 1, signal: null });
    expect(c.output().join("\n")).toMatch(/drain timed out/);
    held.socket.destroy();
    expect(await busDocs("drain-stuck")).toEqual([]);
  });
});
