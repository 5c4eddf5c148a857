/**
 * The demo chat in a real browser (Debian's Chromium driven by playwright-core): two pages on two
 * tailer nodes; a message typed in one appears in both, and each page shows who is here (presence updates).
 */
import { mkdir } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import type { Component } from "../../infra/local/component.ts";
import { chromiumMissing, launchChromium } from "../helpers/chromium.ts";
import { startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const missing = chromiumMissing();
const available = missing === null;
if (!available) console.warn(`[e2e] skipped: ${missing}`);

describe.skipIf(!available)("demo chat in Chromium", () => {
  const db = testDbName(import.meta.url);
  let parts: Component[] = [];
  let browser: Browser;

  beforeAll(async () => {
    const [ingestPort, p1, p2] = await Promise.all([freePort(), freePort(), freePort()]);
    const origins = [p1, p2].map((p) => `http://127.0.0.1:${p}`).join(",");
    const ingest = await startFunctions({ db, port: ingestPort, env: { TAILCAST_CORS_ORIGINS: origins } });
    const env = {
      // Presence updates every 200 ms, so the header's count follows within the test's polls.
      TAILCAST_PRESENCE_INTERVAL_MS: "200",
      TAILCAST_INGEST_URL: ingest.url,
      TAILCAST_PEER_URLS: [p1, p2].map((p) => `http://127.0.0.1:${p}`).join(","),
    };
    parts = [ingest, ...(await Promise.all([p1, p2].map((port) => startTailer({ db, port, env }))))];
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll(parts);
  });

  async function open(node: Component): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${node.url}/`);
    await expect.poll(() => page.textContent("#state")).toBe("connected");
    return page;
  }

  async function send(page: Page, user: string, text: string): Promise<void> {
    await page.fill("#user", user);
    await page.fill("#text", text);
    await page.click("button[type=submit]");
    await expect.poll(() => page.inputValue("#text")).toBe(""); // cleared once the ingest function answered 201
  }
  const texts = (page: Page) => page.locator("#messages li").allTextContents();
  const offsets = (page: Page) =>
    page
      .locator("#messages li")
      .evaluateAll((lis) => lis.map((li) => Number((li as HTMLElement).dataset.offset)));

  it("shows a message from either page on both, and a page whose node dies moves to the other with nothing lost or doubled", async () => {
    const [, n1, n2] = parts as [Component, Component, Component];
    const [left, right] = [await open(n1), await open(n2)];
    expect(await left.textContent("#node")).toBe(`127.0.0.1:${n1.port}`);
    expect(await right.textContent("#node")).toBe(`127.0.0.1:${n2.port}`);
    // Each page shows the channel's presence across the fleet: both pages, one on each node.
    for (const page of [left, right])
      await expect.poll(() => page.textContent("#here")).toBe("2 here · 2 nodes");

    await send(left, "alice", "hello from the left");
    await send(right, "bob", "hi alice");
    for (const page of [left, right]) await expect.poll(() => page.locator("#messages li").count()).toBe(2);
    expect(await left.locator("#messages li b").allTextContents()).toEqual(["alice", "bob"]);

    // The node under the left page dies; the right page keeps talking meanwhile.
    await n1.kill("SIGKILL");
    await send(right, "bob", "are you still there?");
    await send(right, "bob", "hello?");
    await expect.poll(() => left.textContent("#node"), { timeout: 20_000 }).toBe(`127.0.0.1:${n2.port}`);
    await expect.poll(() => left.textContent("#state")).toBe("connected");
    await send(left, "alice", "back, via the other node");

    await expect.poll(() => left.locator("#messages li").count(), { timeout: 15_000 }).toBe(5);
    await expect.poll(() => right.locator("#messages li").count()).toBe(5);
    expect(await offsets(left)).toEqual(await offsets(right));
    expect(new Set(await offsets(left)).size).toBe(5);
    // The dead node's presence expires (12 intervals after its last write): both pages are now on one node.
    await expect.poll(() => left.textContent("#here"), { timeout: 15_000 }).toBe("2 here · 1 node");
    expect((await texts(left)).map((t) => t.replace(/ #\d+.*$/, ""))).toEqual([
      "alice: hello from the left",
      "bob: hi alice",
      "bob: are you still there?",
      "bob: hello?",
      "alice: back, via the other node",
    ]);
    await mkdir(ARTIFACTS, { recursive: true });
    await left.screenshot({ path: new URL("demo-chat.png", ARTIFACTS).pathname });
  });
});
