/** Connections per client address, across both transports (optional: 0 means no limit). */
import { ErrorCode, TailcastError } from "../shared/errors.ts";

export function createConnectionLimit(maxPerAddress: number): (address: string) => () => void {
  const open = new Map<string, number>();
  return (address) => {
    if (maxPerAddress <= 0) return () => {};
    const n = open.get(address) ?? 0;
    if (n >= maxPerAddress) {
      throw new TailcastError(
        ErrorCode.rateLimited,
        `Too many connections from this address (at most ${maxPerAddress}).`,
        {
          retryAfter: 5,
        },
      );
    }
    open.set(address, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    };
  };
}
