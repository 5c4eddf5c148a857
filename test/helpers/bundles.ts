/**
 * The production bundles built for a test file into a temporary directory outside the repository, so
 * nothing can resolve a package from node_modules: what runs there runs with the bundle alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BuildResult, buildBundles } from "../../infra/build/bundle.ts";

export interface BuiltBundles extends BuildResult {
  /** Absolute path of a bundle file, e.g. `functions/lambda.mjs`. */
  file(out: string): string;
  remove(): void;
}

export async function buildToTemp(): Promise<BuiltBundles> {
  const outDir = mkdtempSync(join(tmpdir(), "tailcast-dist-"));
  const result = await buildBundles(outDir);
  return {
    ...result,
    file: (out) => join(outDir, out),
    remove: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
