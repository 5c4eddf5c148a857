// `tsx infra/devdb/build.ts`: pre-builds the cached FerretDB binary (CI does this before the tests so the
// one-time ~90 s Go build is a visible step, not a test timeout). Prints the binary path on stdout.
import { ensureFerretDB } from "./ferretdb-build.ts";

try {
  process.stdout.write(`${(await ensureFerretDB()).path}\n`);
} catch (err) {
  process.stderr.write(`[devdb] error: ${(err as Error).message}\n`);
  process.exit(1);
}
