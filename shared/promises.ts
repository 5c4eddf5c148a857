/** Small promise helpers used on both halves. */

/**
 * For an error deliberately dropped: a best-effort cleanup, or a result nobody waits for any more.
 * Call sites say why in a comment; the name makes every such place findable.
 */
export function ignoreError(_err: unknown): void {}

/** `work`, or a rejection after `ms` if it has not settled by then (it is then left to settle unobserved). */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(ignoreError); // settles after the timeout: nobody is waiting any more
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
