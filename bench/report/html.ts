/**
 * The HTML report: one self-contained page (Chart.js from node_modules inlined, the results as JSON in
 * the page), so it opens from disk with no network. Tables are rendered here; charts in the browser.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { BenchResults } from "../results.ts";
import { sections } from "../table.ts";
import { chartSpecs } from "./charts.ts";

const require = createRequire(import.meta.url);

let chartJs: Promise<string> | undefined;

/** Chart.js's UMD build (it defines `window.Chart`), read once. */
export function chartLibrary(): Promise<string> {
  chartJs ??= readFile(join(dirname(require.resolve("chart.js")), "chart.umd.min.js"), "utf8");
  return chartJs;
}

export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c");
}

export const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #111827; max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #4b5563; margin-bottom: 16px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d1d5db; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.PASS { background: #dcfce7; font-weight: 600; } td.MISS { background: #fee2e2; font-weight: 600; }
.note { color: #4b5563; font-size: 12px; max-width: 1000px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid #e5e7eb; padding: 8px; } figcaption { font-weight: 600; margin-bottom: 4px; }
`;

export const DRAW = `
const data = JSON.parse(document.getElementById("bench-charts").textContent);
let drawn = 0;
for (const spec of data) {
  const canvas = document.getElementById("chart-" + spec.id);
  new Chart(canvas, spec.config);
  drawn++;
}
window.benchChartsDrawn = drawn;
`;

export async function renderHtml(results: BenchResults): Promise<string> {
  const m = results.meta.machine;
  const specs = chartSpecs(results);
  const tables = sections(results)
    .map((s) => {
      const verdict = s.headers.at(-1) === "verdict";
      const head = s.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
      const body = s.rows
        .map(
          (row) =>
            `<tr>${row
              .map((cell, i) => {
                const cls = verdict && i === row.length - 1 ? ` class="${escapeHtml(cell)}"` : "";
                return `<td${cls}>${escapeHtml(cell)}</td>`;
              })
              .join("")}</tr>`,
        )
        .join("\n");
      const note = s.note ? `<p class="note">${escapeHtml(s.note)}</p>` : "";
      return `<section><h2>${escapeHtml(s.title)}</h2><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${note}</section>`;
    })
    .join("\n");
  const figures = specs
    .map(
      (s) =>
        `<figure><figcaption>${escapeHtml(s.title)}</figcaption><canvas id="chart-${escapeHtml(s.id)}" width="560" height="320"></canvas></figure>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tailcast benchmark — ${escapeHtml(results.meta.startedAt)}</title>
<style>${STYLE}</style></head>
<body>
<h1>tailcast benchmark</h1>
<div class="meta">${escapeHtml(results.meta.command)} · ${escapeHtml(results.meta.startedAt)} · ${(results.meta.durationMs / 1000).toFixed(0)} s ·
${m.cpus}× ${escapeHtml(m.cpuModel)}, ${m.memoryGiB} GiB · node ${escapeHtml(m.node)} · ${escapeHtml(m.database)}</div>
<div class="charts">${figures}</div>
${tables}
<script type="application/json" id="bench-results">${scriptJson(results)}</script>
<script type="application/json" id="bench-charts">${scriptJson(specs)}</script>
<script>${(await chartLibrary()).replaceAll("</script", "<\\/script")}</script>
<script>${DRAW}</script>
</body></html>
`;
}
