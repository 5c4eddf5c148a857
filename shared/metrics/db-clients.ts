/**
 * The one metric both halves keep of their database clients (shared/mongo.ts): how many times a client
 * was replaced because a server monitor stopped checking (README "Known issues"). Read at scrape time
 * from the process's bus set, once the process has one.
 */
import { counterOf, type Registry, single } from "./registry.ts";

/** Registers the counter; the returned function tells it where to read the total. */
export function dbClientReplacements(registry: Registry): (read: () => number) => void {
  let total = () => 0;
  counterOf(
    registry,
    {
      name: "tailcast_db_client_replacements_total",
      help: "Database clients replaced because a server monitor stopped checking (a driver defect; README Known issues).",
    },
    () => single(total()),
  );
  return (read) => {
    total = read;
  };
}
