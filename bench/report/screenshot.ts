/**
 * `npx tsx bench/report/screenshot.ts [report.html] [out.png]`: a PNG of a report's charts, taken by
 * Debian's headless Chromium (default: bench-results/latest.html → docs/bench.png).
 */
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";

const [html = "bench-results/latest.html", png = "docs/bench.png"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.TAILCAST_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
  await page.goto(`file://${resolve(REPO_ROOT, html)}`);
  await page.waitForFunction(
    () => typeof (window as { benchChartsDrawn?: number }).benchChartsDrawn === "number",
  );
  await page.locator(".charts").screenshot({ path: resolve(REPO_ROOT, png) });
  console.log(`wrote ${png}`);
} finally {
  await browser.close();
}
