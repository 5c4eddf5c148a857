/**
 * The fleet status page in a real browser (Debian's Chromium driven by playwright-core): two tailer
 * nodes and an ingest process; the page, opened on one node from its demo page's link, lists both
 * tailers and shows the bus as published, and keeps refreshing itself. With two buses
 * (TAILCAST_BUSES=2) it shows one row per bus instead.
 */
import { mkdir } from "node:fs/promises";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import type { Component } from "../../infra/local/component.ts";
import type { BusRow } from "../../tailer/status.ts";
import { channelIn } from "../helpers/bus-set-writer.ts";
import { chromiumMissing, launchChromium } from "../helpers/chromium.ts";
import { connectSubscriber, type Subscriber } from "../helpers/recording-client.ts";
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

describe.skipIf(!available)("fleet status page in Chromium, two buses", () => {
  const db = testDbName(import.meta.url);
  const env = { TAILCAST_HEARTBEAT_MS: "500", TAILCAST_BUSES: "2" };
  const [ch0, ch1] = [channelIn(0, 2, "room"), channelIn(1, 2, "room")] as [string, string];
  let parts: Component[] = [];
  let browser: Browser;
  let sub: Subscriber | undefined;

  beforeAll(async () => {
    const ingest = await startFunctions({ db, env });
    parts = [ingest, await startTailer({ db, nodeId: "tailer-b", env })];
    browser = await launchChromium();
  });

  afterAll(async () => {
    sub?.close();
    await browser?.close();
    await stopAll(parts);
  });

  it("shows one row per bus, with its offsets and whether the serving node tails it", async () => {
    const [ingest, node] = parts as [Component, Component];
    // A subscriber of bus 0's channel: the node tails bus 0 only.
    sub = await connectSubscriber(node.url);
    await sub.subscribe(ch0);
    const last: Record<string, number> = {};
    for (let i = 0; i < 12; i++) {
      const channel = i % 3 === 0 ? ch1 : ch0;
      const r = await publish(ingest, channel, { i });
      expect(r.status).toBe(201);
      last[channel] = r.body.offset as number;
    }
    const json = (await (await fetch(`${node.url}/status.json`)).json()) as { buses: BusRow[] };
    expect(json.buses.map((b) => [b.index, b.collection, b.tailing])).toEqual([
      [0, "bus", true],
      [1, "bus_1", false],
    ]);

    const page = await browser.newPage({ viewport: { width: 1400, height: 600 } });
    await page.goto(`${node.url}/status`);
    const row = (bus: number, col: number) =>
      page.textContent(`#buses tr[data-bus="${bus}"] td:nth-child(${col})`);
    await expect
      .poll(
        () =>
          page.locator("#buses tr").evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.bus)),
        REFRESH,
      )
      .toEqual(["0", "1"]);
    // The one-bus figures give way to the rows.
    expect(await page.isHidden("#bus-section")).toBe(true);
    expect(await page.isVisible("#buses-section")).toBe(true);
    await expect
      .poll(async () => [await row(0, 7), await row(1, 7)], REFRESH)
      .toEqual([String(last[ch0]), String(last[ch1])]);
    expect([await row(0, 2), await row(1, 2)]).toEqual(["bus", "bus_1"]);
    expect([await row(0, 3), await row(1, 3)]).toEqual(["answering", "answering"]);
    expect([await row(0, 4), await row(1, 4)]).toEqual(["yes", "no"]);
    // Bus 0's rate is what its tail here saw; bus 1's is unknown here, and so is its retention at that rate.
    expect(await row(0, 9)).toMatch(/^[\d,]+(\.\d)? \/s$/);
    expect([await row(1, 9), await row(1, 10)]).toEqual(["–", "–"]);
    expect(await page.textContent("#error")).toBe("");
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("status-buses.png", ARTIFACTS).pathname, fullPage: true });
  });
});
