// `npm run devdb`: a foreground dev database. Prints exactly one stdout line, `MONGODB_URI=<uri>`, once it
// answers ping (so scripts can read it); everything else goes to stderr. Ctrl-C / SIGTERM stop it cleanly.
// Env: TAILCAST_DEVDB_PORT (default 27017), TAILCAST_DEVDB_DIR (default <repo>/.cache/devdb-data, kept).
// With MONGODB_URI already set it prints that URI and exits 0 at once: there is nothing to keep running.
import { join } from "node:path";
import { z } from "zod";
import { port, readEnv } from "../../shared/env.ts";
import { REPO_ROOT, stderrLog } from "./ferretdb-build.ts";
import {
  DEV_CAPPED_CLEANUP_INTERVAL,
  type DevDb,
  DevDbStartError,
  isPortFree,
  startDevDb,
} from "./launcher.ts";

function fail(message: string): never {
  process.stderr.write(`[devdb] error: ${message}\n`);
  process.exit(1);
}

const devdbSchema = z.object({
  MONGODB_URI: z.string().optional(),
  TAILCAST_DEVDB_PORT: port().optional(),
  TAILCAST_DEVDB_DIR: z.string().default(join(REPO_ROOT, ".cache", "devdb-data")),
});

async function main(): Promise<void> {
  let env: z.output<typeof devdbSchema>;
  try {
    env = readEnv(devdbSchema, process.env);
  } catch (err) {
    fail((err as Error).message);
  }
  const external = env.MONGODB_URI;
  if (external) {
    stderrLog("MONGODB_URI is set: using that external database, not starting one");
    process.stdout.write(`MONGODB_URI=${external}\n`);
    return;
  }
  const explicitPort = env.TAILCAST_DEVDB_PORT;
  const port = explicitPort ?? 27017;
  if (!(await isPortFree(port))) {
    fail(
      explicitPort === undefined
        ? "port 27017 is already in use (another MongoDB/devdb?); choose one with TAILCAST_DEVDB_PORT=<port>"
        : `TAILCAST_DEVDB_PORT=${port} is already in use; choose another port`,
    );
  }
  const dir = env.TAILCAST_DEVDB_DIR;

  let db: DevDb;
  try {
    db = await startDevDb({ port, dir, server: "auto", cappedCleanupInterval: DEV_CAPPED_CLEANUP_INTERVAL });
  } catch (err) {
    if (err instanceof DevDbStartError) for (const line of err.output) stderrLog(`server: ${line}`);
    fail(
      err instanceof DevDbStartError ? (err.message.split("\n")[0] ?? err.message) : (err as Error).message,
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stderrLog(`${signal}: stopping ${db.kind}…`);
    db.stop().then(
      () => process.exit(0),
      (err: Error) => fail(`stop failed: ${err.message}`),
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  void db.exited.then(({ code, signal }) => {
    if (stopping) return;
    for (const line of db.output()) stderrLog(`server: ${line}`);
    fail(`${db.kind} exited unexpectedly (${signal ?? `code ${code}`})`);
  });

  process.stdout.write(`MONGODB_URI=${db.uri}\n`);
  stderrLog(`data in ${dir}; press Ctrl-C to stop`);
}

await main();
