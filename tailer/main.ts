/** Tailer entry: `npm run tailer`. */
import { loadTailerConfig } from "../shared/config.ts";
import { createLogger } from "../shared/log.ts";
import { startTailerNode } from "./node.ts";

const config = loadTailerConfig();
const log = createLogger(config.nodeId);
const node = await startTailerNode(config, log);
node.fatal.catch(async (err: unknown) => {
  log.error("cannot tail the bus", { err });
  await node.stop().catch(() => {});
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
