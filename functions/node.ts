/** Node entry: `npm run functions`. Serves the ingest app until SIGINT/SIGTERM, then drains. */
import { serve } from "@hono/node-server";
import { isTailcastError } from "../shared/errors.ts";
import { orExit } from "../shared/startup.ts";
import { createIngestRuntime } from "./runtime.ts";

const { app, config, mongo, log, bus } = orExit("functions", () => createIngestRuntime());
const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
  log.info("ingest listening", { url: `http://${config.host}:${info.port}`, port: info.port });
});

function shutdown(signal: string) {
  log.info("shutting down", { signal });
  server.close(() => void mongo.close().finally(() => process.exit(0)));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.once("SIGINT", () => shutdown("SIGINT"));
process.once("SIGTERM", () => shutdown("SIGTERM"));

// Check the bus at start so a misconfiguration stops the process with a clear message; an unreachable
// database is not fatal (requests get 503 and /readyz says so until it is back).
bus().catch((err: unknown) => {
  if (!isTailcastError(err)) return log.warn("bus not reachable yet", { err });
  log.error("cannot use the bus", { err });
  process.exit(1);
});
