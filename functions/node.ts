/**
 * Node entry: `npm run functions`. Serves the ingest app until SIGTERM or SIGINT, then drains
 * (functions/drain.ts): new requests get 503 `node_draining`, those under way are answered, and the
 * process exits 0 — or 1 if that takes longer than TAILCAST_DRAIN_TIMEOUT_MS. A second signal ends it
 * at once.
 */
import type { AddressInfo } from "node:net";
import { isTailcastError } from "../shared/errors.ts";
import type { Heartbeat } from "../shared/fleet/heartbeat.ts";
import { createHttpServer } from "../shared/http-server.ts";
import { startMetricsServer } from "../shared/metrics/expose.ts";
import { orExit } from "../shared/startup.ts";
import { signalReadyWhen, stopOnSupervisorRequest } from "../shared/supervisor.ts";
import { IngestDrain } from "./drain.ts";
import { recordingServerErrors, startIngestHeartbeat } from "./heartbeat.ts";
import { createIngestRuntime } from "./runtime.ts";

const drain = new IngestDrain();
const { app, config, mongo, log, buses, writers, metrics } = orExit("functions", () =>
  createIngestRuntime(process.env, { draining: () => drain.draining }),
);
const served = recordingServerErrors(app.fetch);
const server = createHttpServer(served.fetch);
drain.track(server);
let heartbeat: Heartbeat | undefined;
server.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo;
  log.info("ingest listening", { url: `http://${config.host}:${port}`, port });
  heartbeat = startIngestHeartbeat({ config, mongo, server, port, lastError: served.lastError, log });
});

const metricsServer = await startMetricsServer(metrics.registry, config.metrics, config.host);
if (metricsServer) log.info("metrics listening", { port: metricsServer.port });

function shutdown(signal: string) {
  log.info("shutting down", { signal, drainTimeoutMs: config.drainTimeoutMs });
  // The metrics port stays open until the process exits, so the drain itself (the 503s it answers)
  // can still be scraped; the exit closes it.
  const leaving = heartbeat?.stop(); // the fleet's status page stops listing this process
  setTimeout(() => {
    log.error("drain timed out: exiting with requests unanswered", {
      drainTimeoutMs: config.drainTimeoutMs,
      inFlight: drain.inFlight,
    });
    process.exit(1);
  }, config.drainTimeoutMs).unref();
  drain
    .drain({
      writerIdle: () => Promise.all(writers.map((w) => w.idle())).then(() => undefined),
      closeDatabase: () => Promise.resolve(leaving).then(() => buses.close()),
      log,
    })
    .then(
      () => process.exit(0),
      (err: unknown) => {
        log.error("drain failed", { err });
        process.exit(1);
      },
    );
}
process.once("SIGINT", () => shutdown("SIGINT"));
process.once("SIGTERM", () => shutdown("SIGTERM"));
stopOnSupervisorRequest();

// Check every bus at start so a misconfiguration stops the process with a clear message; an unreachable
// database is not fatal (requests get 503 and /readyz says so until it is back).
let busReady = false;
Promise.all(buses.buses.map((b) => b.collection()))
  .then(() => {
    busReady = true;
  })
  .catch((err: unknown) => {
    if (!isTailcastError(err)) return log.warn("bus not reachable yet", { err });
    log.error("cannot use the bus", { err });
    process.exit(1);
  });
signalReadyWhen(() => busReady && server.listening);
