/** Node entry: `npm run functions`. Serves the ingest app until SIGINT/SIGTERM, then drains. */
import type { AddressInfo } from "node:net";
import { isTailcastError } from "../shared/errors.ts";
import type { Heartbeat } from "../shared/fleet/heartbeat.ts";
import { createHttpServer } from "../shared/http-server.ts";
import { orExit } from "../shared/startup.ts";
import { recordingServerErrors, startIngestHeartbeat } from "./heartbeat.ts";
import { createIngestRuntime } from "./runtime.ts";

const { app, config, mongo, log, bus } = orExit("functions", () => createIngestRuntime());
const served = recordingServerErrors(app.fetch);
const server = createHttpServer(served.fetch);
let heartbeat: Heartbeat | undefined;
server.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo;
  log.info("ingest listening", { url: `http://${config.host}:${port}`, port });
  heartbeat = startIngestHeartbeat({ config, mongo, server, port, lastError: served.lastError, log });
});

function shutdown(signal: string) {
  log.info("shutting down", { signal });
  const leaving = heartbeat?.stop(); // the fleet's status page stops listing this process
  server.close(
    () =>
      void Promise.resolve(leaving)
        .then(() => mongo.close())
        .finally(() => process.exit(0)),
  );
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
