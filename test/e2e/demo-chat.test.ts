/**
 * The demo chat in a real browser (Debian's Chromium driven by playwright-core): two pages on two
 * tailer nodes; a message typed in one appears in both.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import type { Component } from "../../infra/local/component.ts";
import { startFunctions, startTailer, stopAll, testDbName } from "../helpers/stack.ts";

const CHROMIUM = process.env.TAILCAST_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const available = existsSync(CHROMIUM);
if (!available)
  console.warn(
    `[e2e] skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set TAILCAST_CHROMIUM)`,
  );

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

describe.skipIf(!available)("demo chat in Chromium", () => {
  const db = testDbName(import.meta.url);
  let parts: Component[] = [];
  let browser: Browser;

  beforeAll(async () => {
    const [ingestPort, p1, p2] = await Promise.all([freePort(), freePort(), freePort()]);
    const origins = [p1, p2].map((p) => `http://127.0.0.1:${p}`).join(",");
    const ingest = await startFunctions({ db, port: ingestPort, env: { TAILCAST_CORS_ORIGINS: origins } });
    const env = { TAILCAST_INGEST_URL: ingest.url };
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

  it("shows a message sent from the page on one node on the pages of both nodes", async () => {
    const [, n1, n2] = parts as [Component, Component, Component];
    const [left, right] = [await open(n1), await open(n2)];
    expect(await left.textContent("#node")).not.toBe(await right.textContent("#node"));
    await left.fill("#user", "alice");
    await left.fill("#text", "hello from the left");
    await left.click("button[type=submit]");
    for (const page of [left, right]) {
      await page.waitForSelector("#messages li:has-text('hello from the left')", { timeout: 15_000 });
      expect(await page.locator("#messages li").count()).toBe(1);
    }
    await right.fill("#user", "bob");
    await right.fill("#text", "hi alice");
    await right.click("button[type=submit]");
    await left.waitForSelector("#messages li:has-text('hi alice')", { timeout: 15_000 });
    expect(await left.locator("#messages li b").allTextContents()).toEqual(["alice", "bob"]);
    await mkdir(ARTIFACTS, { recursive: true });
    await left.screenshot({ path: new URL("demo-chat.png", ARTIFACTS).pathname });
  });
});
