/**
 * `npx tsx bench/report/screenshot.ts [report.html] [out.png]`: a PNG of a report's charts, taken by
 * Debian's headless Chromium (default: bench-results/latest.html → docs/bench.png).
 */
import { captureCharts } from "./capture.ts";

const [html = "bench-results/latest.html", png = "docs/bench.png"] = process.argv.slice(2);
await captureCharts(html, png);
console.log(`wrote ${png}`);
