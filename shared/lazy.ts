/**
 * A value made on first use and shared by every caller (a database setup, a build). A failure is
 * forgotten, so the next call tries again instead of every later request failing the same way.
 */
export type Cached<T> = (() => Promise<T>) & {
  /** Forgets the value (e.g. the bus it set up was dropped): the next call makes it again. */
  reset(): void;
};

export function cachedUntilFailure<T>(make: () => Promise<T>): Cached<T> {
  let pending: Promise<T> | undefined;
  const get = () => {
    if (pending === undefined) {
      const attempt = make();
      pending = attempt;
      attempt.catch(() => {
        if (pending === attempt) pending = undefined;
      });
    }
    return pending;
  };
  return Object.assign(get, {
    reset: () => {
      pending = undefined;
    },
  });
}
