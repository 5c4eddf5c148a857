/** Node entry: `npm run functions`. Serves the ingest app until SIGINT/SIGTERM, then drains. */
import type { AddressInfo } from "node:net";
import { isTailcastError } from "../shared/errors.ts";
import { createHttpServer } from "../shared/http-server.ts";
import { orExit } from "../shared/startup.ts";
import { signalReadyWhen, stopOnSupervisorRequest } from "../shared/supervisor.ts";
import { createIngestRuntime } from "./runtime.ts";

const { app, config, mongo, log, bus } = orExit("functions", () => createIngestRuntime());
const server = createHttpServer(app.fetch);
server.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo;
  log.info("ingest listening", { url: `http://${config.host}:${port}`, port });
});

function shutdown(signal: string) {
  log.info("shutting down", { signal });
  server.close(() => void mongo.close().finally(() => process.exit(0)));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.once("SIGINT", () => shutdown("SIGINT"));
process.once("SIGTERM", () => shutdown("SIGTERM"));
stopOnSupervisorRequest();

// Check the bus at start so a misconfiguration stops the process with a clear message; an unreachable
// database is not fatal (requests get 503 and /readyz says so until it is back).
let busReady = false;
bus()
  .then(() => {
    busReady = true;
  })
  .catch((err: unknown) => {
    if (!isTailcastError(err)) return log.warn("bus not reachable yet", { err });
    log.error("cannot use the bus", { err });
    process.exit(1);
  });
signalReadyWhen(() => busReady && server.listening);
