/**
 * A value made on first use and shared by every caller (a database setup, a build). A failure is
 * forgotten, so the next call tries again instead of every later request failing the same way.
 */
export function cachedUntilFailure<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending === undefined) {
      const attempt = make();
      pending = attempt;
      attempt.catch(() => {
        if (pending === attempt) pending = undefined;
      });
    }
    return pending;
  };
}
