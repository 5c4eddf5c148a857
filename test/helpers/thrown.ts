import { expect } from "vitest";
import { TailcastError } from "../../shared/errors.ts";

/** The TailcastError `fn` throws; fails the test if it throws anything else or nothing. */
export function thrown(fn: () => unknown): TailcastError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TailcastError);
    return err as TailcastError;
  }
  throw new Error("expected a TailcastError, nothing was thrown");
}
