/** Writes one run's report: `<dir>/bench-<time>.json` and `.html`, and copies as `latest.*`. */
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BenchResults } from "../results.ts";
import { renderHtml } from "./html.ts";

export async function writeReport(
  results: BenchResults,
  dir: string,
): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = results.meta.startedAt.replace(/[:.]/g, "-");
  const json = join(dir, `bench-${stamp}.json`);
  const html = join(dir, `bench-${stamp}.html`);
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(html, await renderHtml(results));
  await copyFile(json, join(dir, "latest.json"));
  await copyFile(html, join(dir, "latest.html"));
  return { json, html };
}
