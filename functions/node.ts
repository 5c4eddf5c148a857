/** Node entry: `npm run functions`. Serves the ingest app until SIGINT/SIGTERM, then drains. */
import { serve } from "@hono/node-server";
import { createIngestRuntime } from "./runtime.ts";

const { app, config, mongo, log } = createIngestRuntime();
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
