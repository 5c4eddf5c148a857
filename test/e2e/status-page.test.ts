/**
 * The fleet status page in a real browser (Debian's Chromium driven by playwright-core): two tailer
 * nodes and an ingest process; the page, opened on one node from its demo page's link, lists both
 * tailers and shows the bus as published, and keeps refreshing itself.
 */
import { mkdir } from "node:fs/promises";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import type { Component } from "../../infra/local/component.ts";
import { chromiumMissing, launchChromium } from "../helpers/chromium.ts";
import { publish, startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const missing = chromiumMissing();
const available = missing === null;
if (!available) console.warn(`[e2e] skipped: ${missing}`);
/** The page refreshes every 2 s, the nodes' heartbeats every 0.5 s. */
const REFRESH = { timeout: 10_000 };

describe.skipIf(!available)("fleet status page in Chromium", () => {
  const db = testDbName(import.meta.url);
  let parts: Component[] = [];
  let browser: Browser;

  beforeAll(async () => {
    const [p1, p2] = await Promise.all([freePort(), freePort()]);
    const env = {
      TAILCAST_HEARTBEAT_MS: "500",
      TAILCAST_PEER_URLS: [p1, p2].map((p) => `http://127.0.0.1:${p}`).join(","),
    };
    const ingest = await startFunctions({ db, env: { TAILCAST_HEARTBEAT_MS: "500" } });
    const tailers = await Promise.all([
      startTailer({ db, port: p1, nodeId: "tailer-1", env: { ...env, TAILCAST_INGEST_URL: ingest.url } }),
      startTailer({ db, port: p2, nodeId: "tailer-2", env: { ...env, TAILCAST_INGEST_URL: ingest.url } }),
    ]);
    parts = [ingest, ...tailers];
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll(parts);
  });

  it("lists both tailers and the bus figures, and follows what is published", async () => {
    const [ingest, n1, n2] = parts as [Component, Component, Component];
    let last = 0;
    for (let i = 0; i < 40; i++) {
      const r = await publish(ingest, `room:${i % 4}`, { i });
      expect(r.status).toBe(201);
      last = r.body.offset as number;
    }

    const page = await browser.newPage({ viewport: { width: 1400, height: 540 } });
    // From the demo page's link, the way a developer finds it.
    await page.goto(`${n1.url}/`);
    await page.click("#status-link");
    await page.waitForURL(`${n1.url}/status`);

    const rows = page.locator("#nodes tr");
    await expect
      .poll(() => rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.node)), REFRESH)
      .toEqual(["tailer-1", "tailer-2", expect.stringMatching(/^functions-/)]);
    expect(await page.textContent("#served-by")).toBe("tailer-1");
    expect(await page.textContent("#fleet-tailers")).toBe("2");
    expect(await page.textContent("#fleet-functions")).toBe("1");
    await expect.poll(() => page.textContent("#bus-newest"), REFRESH).toBe(String(last));
    expect(await page.textContent("#bus-oldest")).toBe("0");
    expect(await page.textContent("#bus-retained")).toBe(String(last + 1));
    expect(await page.textContent("#bus-rate")).toMatch(/^[\d,]+(\.\d)? \/s$/);
    expect(await page.textContent("#bus-retention")).toMatch(/^\d+(\.\d)? (s|min|h|d)$/);
    await expect
      .poll(() => page.textContent('#nodes tr[data-node="tailer-2"] td:nth-child(10)'), REFRESH)
      .toBe(String(last));

    // It refreshes itself: a message published now shows up without a reload.
    const r = await publish(ingest, "room:0", { more: true });
    await expect.poll(() => page.textContent("#bus-newest"), REFRESH).toBe(String(r.body.offset));
    // A chat page open on tailer-2 is one connection with one subscription there.
    const chat = await browser.newPage();
    await chat.goto(`${n2.url}/`);
    await expect.poll(() => chat.textContent("#state")).toBe("connected");
    const cells = (n: number) => page.textContent(`#nodes tr[data-node="tailer-2"] td:nth-child(${n})`);
    await expect.poll(async () => [await cells(8), await cells(9)], REFRESH).toEqual(["1", "1"]);
    expect(await page.textContent("#error")).toBe("");

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("status.png", ARTIFACTS).pathname, fullPage: true });
  });
});
