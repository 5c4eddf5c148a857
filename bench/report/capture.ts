/** A PNG of a report page's charts, taken by Debian's headless Chromium (`TAILCAST_CHROMIUM` overrides). */
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";

/** Opens `html` (a path from the repository root), waits for its charts, writes `.charts` to `png`. */
export async function captureCharts(html: string, png: string, width = 1240): Promise<void> {
  const browser = await chromium.launch({
    executablePath: process.env.TAILCAST_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`file://${resolve(REPO_ROOT, html)}`);
    await page.waitForFunction(
      () => typeof (window as { benchChartsDrawn?: number }).benchChartsDrawn === "number",
    );
    await page.locator(".charts").screenshot({ path: resolve(REPO_ROOT, png) });
  } finally {
    await browser.close();
  }
}
