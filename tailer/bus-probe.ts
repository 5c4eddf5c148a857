/**
 * Whether a bus answers, for a node's readiness over several buses and its bus rows (tailer/buses.ts):
 * its newest document read (the bus set up on first use, shared/bus/collection.ts) in time.
 */
import type { Collection } from "mongodb";
import { newestPosition } from "../shared/bus/collection.ts";
import type { BusDoc } from "../shared/bus/doc.ts";
import { isTailcastError } from "../shared/errors.ts";
import { withTimeout } from "../shared/promises.ts";

/** False when the bus did not answer within `timeoutMs`; throws on a misconfiguration (waiting will not help). */
export async function busAnswers(
  bus: () => Promise<Collection<BusDoc>>,
  timeoutMs: number,
): Promise<boolean> {
  try {
    await withTimeout((async () => newestPosition(await bus(), timeoutMs))(), timeoutMs);
    return true;
  } catch (err) {
    if (isTailcastError(err)) throw err;
    return false;
  }
}
