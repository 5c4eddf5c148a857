/** Tailer entry: `npm run tailer`. */
import { AUTH_OFF_WARNING, requireSubscriberAuth } from "../shared/auth/mode.ts";
import { loadLogConfig, loadTailerConfig } from "../shared/config.ts";
import { createLogger } from "../shared/log.ts";
import { ignoreError } from "../shared/promises.ts";
import { orExit } from "../shared/startup.ts";
import { signalReadyWhen, stopOnSupervisorRequest } from "../shared/supervisor.ts";
import { exitDeadline } from "./drain-plan.ts";
import { startTailerNode } from "./node.ts";

const config = orExit("tailer", () => loadTailerConfig());
const logConfig = orExit(config.nodeId, () => loadLogConfig());
const log = createLogger("tailer", { ...logConfig, node: config.nodeId });
const subscribers = orExit(config.nodeId, () => requireSubscriberAuth(process.env));
if (subscribers === "off") log.warn(AUTH_OFF_WARNING);

// A drain (SIGTERM or POST /admin/drain, README "Drain") ends with the process: exit 0 when the node
// has stopped; exit 1 at the deadline before TAILCAST_DRAIN_TIMEOUT_MS, or when stopping failed, so a
// process manager can tell a cut-short drain from a clean one.
const onDrain = (stopped: Promise<void>) => {
  setTimeout(() => {
    log.warn("the drain did not finish before its deadline; exiting", { timeoutMs: config.drain.timeoutMs });
    process.exit(1);
  }, exitDeadline(config.drain)).unref();
  stopped.then(
    () => {
      log.info("drained; exiting");
      process.exit(0);
    },
    (err: unknown) => {
      log.error("the drain failed; exiting", { err });
      process.exit(1);
    },
  );
};

const node = await startTailerNode(config, log, subscribers, { onDrain });
signalReadyWhen(() => node.ready());
node.fatal.catch(async (err: unknown) => {
  log.error("cannot tail the bus", { err });
  await node.stop().catch(ignoreError); // exiting anyway; the fatal error is logged above
  process.exit(1);
});

// SIGINT (Ctrl-C in a terminal) stops at once; SIGTERM (process managers, Kubernetes) drains.
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info("shutting down", { signal });
  setTimeout(() => process.exit(0), 5000).unref();
  await node.stop().catch((err: unknown) => log.error("shutdown failed", { err }));
  process.exit(0);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
// Every SIGTERM joins the one drain: a repeated signal must not cut it short (SIGKILL does that).
process.on("SIGTERM", () => void node.drain("SIGTERM").catch(ignoreError)); // onDrain reports it
stopOnSupervisorRequest();
