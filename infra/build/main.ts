/** `npm run build`: the production bundles (infra/build/bundle.ts), with their sizes. */
import { join, relative } from "node:path";
import { REPO_ROOT } from "../devdb/ferretdb-build.ts";
import { buildBundles } from "./bundle.ts";

const started = performance.now();
const { outDir, sizes } = await buildBundles();
for (const [file, bytes] of Object.entries(sizes).sort()) {
  const path = join(relative(REPO_ROOT, outDir), file);
  process.stdout.write(`  ${path.padEnd(28)} ${(bytes / 1024).toFixed(0).padStart(6)} KiB\n`);
}
process.stdout.write(`built in ${(performance.now() - started).toFixed(0)} ms\n`);
