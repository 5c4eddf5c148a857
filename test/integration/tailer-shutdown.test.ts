/**
 * A tailer stopping while its database hangs (answers nothing, closes nothing): /readyz answers 503 from
 * the moment SIGTERM arrives, the drain tells the node's clients to move (WebSocket close 1012, README
 * "Drain"), and stopping does not wait on queries that ignore the abort signal, so the process exits.
 */

import { afterAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import type { Component } from "../../infra/local/component.ts";
import { startTailer, stopAll, testDbName } from "../helpers/stack.ts";
import { type StallProxy, startStallProxy } from "../helpers/stall-proxy.ts";

const db = testDbName(import.meta.url);
let proxy: StallProxy | undefined;
let tailer: Component | undefined;
afterAll(async () => {
  await stopAll([tailer]);
  await proxy?.close();
});

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
    proxy = await startStallProxy(inject("mongodbUri"));
    tailer = await startTailer({ db, uri: proxy.uri });
    const node = tailer;
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
});
