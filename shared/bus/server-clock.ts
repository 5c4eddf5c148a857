/**
 * The database server's clock, for decisions that instances with different clocks must agree on (the
 * age of an idempotency claim: shared/bus/idempotency.ts). The server's time is read with `hello`
 * (`localTime`), corrected by half the round trip, and carried forward with this process's monotonic
 * clock, so a jump of the local wall clock changes nothing and a read costs nothing between refreshes.
 */
import type { Db } from "mongodb";
import { sleep } from "../backoff.ts";
import type { IdempotencyClock } from "./idempotency.ts";

export interface ServerClockOptions {
  /** Re-read the server's time this often, so drift between the two clocks stays small. */
  refreshMs: number;
  /** Monotonic milliseconds (performance.now by default); injectable for tests. */
  monotonic?: () => number;
}

export function serverClock(
  db: () => Promise<Db>,
  options: ServerClockOptions = { refreshMs: 60_000 },
): IdempotencyClock {
  const monotonic = options.monotonic ?? (() => performance.now());
  let anchor: { server: number; at: number } | undefined;
  let reading: Promise<void> | undefined;
  const read = async () => {
    const sent = monotonic();
    const hello = (await (await db()).command({ hello: 1 })) as { localTime?: unknown };
    const received = monotonic();
    if (!(hello.localTime instanceof Date)) throw new Error("the server's hello reply has no localTime");
    anchor = { server: hello.localTime.getTime() + (received - sent) / 2, at: received };
  };
  return {
    async now() {
      if (anchor === undefined || monotonic() - anchor.at > options.refreshMs) {
        reading ??= read().finally(() => {
          reading = undefined;
        });
        await reading;
      }
      const a = anchor as { server: number; at: number };
      return a.server + (monotonic() - a.at);
    },
    sleep,
  };
}
