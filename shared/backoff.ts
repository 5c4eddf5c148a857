/** Jittered exponential backoff ("full jitter"): spreads reconnecting nodes apart. Pure. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const defaultBackoff: Readonly<BackoffOptions> = Object.freeze({ initialMs: 50, maxMs: 5000 });

export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const floor = Math.min(options.initialMs / 2, options.maxMs);
  const ceiling = Math.max(floor, Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt)));
  return Math.round(floor + random() * (ceiling - floor));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
