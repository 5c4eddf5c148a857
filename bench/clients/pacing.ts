/**
 * Sends `total` messages at `rate` per second — message i is due at start + i/rate — with at most
 * `inFlight` unanswered at once, and gives up at `deadlineMs`. A system that cannot keep up shows as an
 * achieved rate below the target, not as an ever-growing queue in the publisher.
 */
import { nowMs } from "../child.ts";

export interface PacedResult {
  sent: number;
  /** Indexes whose send reported failure. */
  failed: number[];
  elapsedMs: number;
  /** Time from each send to its acknowledgement, ms. */
  ackMs: number[];
  errors: string[];
}

export function paced(
  total: number,
  rate: number,
  inFlight: number,
  deadlineMs: number,
  send: (index: number) => Promise<void>,
): Promise<PacedResult> {
  const start = nowMs();
  const result: PacedResult = { sent: 0, failed: [], elapsedMs: 0, ackMs: [], errors: [] };
  let busy = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      result.elapsedMs = nowMs() - start;
      resolve(result);
    };
    const pump = () => {
      timer = undefined;
      const now = nowMs();
      const late = now - start > deadlineMs;
      while (!late && result.sent < total && busy < inFlight && start + (result.sent * 1000) / rate <= now) {
        const i = result.sent++;
        busy++;
        const t = nowMs();
        send(i)
          .then(
            () => {
              result.ackMs.push(nowMs() - t);
            },
            (err: unknown) => {
              result.failed.push(i);
              if (result.errors.length < 5)
                result.errors.push(err instanceof Error ? err.message : String(err));
            },
          )
          .finally(() => {
            busy--;
            if (timer === undefined) pump();
          });
      }
      if ((result.sent >= total || late) && busy === 0) return finish();
      if (!late && result.sent < total && busy < inFlight && timer === undefined) {
        const due = start + (result.sent * 1000) / rate - nowMs();
        timer = setTimeout(pump, Math.max(0, due));
      }
    };
    pump();
  });
}
