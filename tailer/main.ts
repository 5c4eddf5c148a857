/** Tailer entry: `npm run tailer`. */
import { AUTH_OFF_WARNING, requireSubscriberAuth } from "../shared/auth/mode.ts";
import { loadLogConfig, loadTailerConfig } from "../shared/config.ts";
import { createLogger } from "../shared/log.ts";
import { ignoreError } from "../shared/promises.ts";
import { orExit } from "../shared/startup.ts";
import { signalReadyWhen, stopOnSupervisorRequest } from "../shared/supervisor.ts";
import { startTailerNode } from "./node.ts";

const config = orExit("tailer", () => loadTailerConfig());
const logConfig = orExit(config.nodeId, () => loadLogConfig());
const log = createLogger(config.nodeId, logConfig);
const subscribers = orExit(config.nodeId, () => requireSubscriberAuth(process.env));
if (subscribers === "off") log.warn(AUTH_OFF_WARNING);
const node = await startTailerNode(config, log, subscribers);
signalReadyWhen(() => node.ready());
node.fatal.catch(async (err: unknown) => {
  log.error("cannot tail the bus", { err });
  await node.stop().catch(ignoreError); // exiting anyway; the fatal error is logged above
  process.exit(1);
});

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
process.once("SIGTERM", () => void shutdown("SIGTERM"));
stopOnSupervisorRequest();
