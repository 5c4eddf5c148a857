/**
 * A tailer stopping while its database hangs (answers nothing, closes nothing): /readyz answers 503 from
 * the moment SIGTERM arrives, the drain tells the node's clients to move (WebSocket close 1012, README
 * "Drain"), and stopping does not wait on queries that ignore the abort signal, so the process exits —
 * with 0, or with 1 when its drain timeout cut the stop short.
 */

import { afterAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import type { Component } from "../../infra/local/component.ts";
import { startTailer, stopAll, testDbName } from "../helpers/stack.ts";
import { type StallProxy, startStallProxy } from "../helpers/stall-proxy.ts";

const db = testDbName(import.meta.url);
const proxies: StallProxy[] = [];
const tailers: Component[] = [];
afterAll(async () => {
  await stopAll(tailers);
  await Promise.all(proxies.map((p) => p.close()));
});

/** A tailer whose database can be made to hang. */
async function tailerOverProxy(env?: Record<string, string>) {
  const proxy = await startStallProxy(inject("mongodbUri"));
  proxies.push(proxy);
  const node = await startTailer({ db, uri: proxy.uri, ...(env ? { env } : {}) });
  tailers.push(node);
  return { proxy, node };
}

/** What GET /readyz answers, or "refused" once nothing listens. */
async function readyz(node: Component): Promise<number | "refused"> {
  try {
    const res = await fetch(`${node.url}/readyz`);
    await res.body?.cancel();
    return res.status;
  } catch {
    return "refused";
  }
}

describe("tailer shutdown with a hanging database", () => {
  it("turns /readyz to 503 at once and tells its clients before it exits", async () => {
    const { proxy, node } = await tailerOverProxy();
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    expect(await readyz(node)).toBe(200);

    proxy.stall();
    const exited = node.kill("SIGTERM");
    // Until the process is gone, every answer is 503 once the signal is handled; never 200 again
    // after a non-200, and the first non-200 is an answer, not a refused connection.
    const seen: Array<number | "refused"> = [];
    for (;;) {
      const status = await readyz(node);
      seen.push(status);
      if (status !== 200) break;
    }
    expect(seen.at(-1)).toBe(503);
    expect(await closed).toBe(1012);
    const exit = await exited;
    expect(exit.code).toBe(0);
  });

  it("exits 1 when the drain timeout cuts the stop short", async () => {
    // The window ends at 1 s; the tail's hung read then holds the stop for up to 1.5 s, past the
    // deadline the 1.2 s timeout sets.
    const { proxy, node } = await tailerOverProxy({
      TAILCAST_DRAIN_WINDOW_MS: "1000",
      TAILCAST_DRAIN_TIMEOUT_MS: "1200",
    });
    proxy.stall();
    const exit = await node.kill("SIGTERM");
    expect(exit.code).toBe(1);
    expect(node.output().join("\n")).toContain("the drain did not finish before its deadline");
  });
});
