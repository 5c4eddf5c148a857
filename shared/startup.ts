/** Entry points run their setup through this: a configuration problem is one clear line and exit 1, not a stack trace. */
import { isTailcastError } from "./errors.ts";

export function orExit<T>(component: string, setup: () => T): T {
  try {
    return setup();
  } catch (err) {
    const message = isTailcastError(err) || err instanceof Error ? err.message : String(err);
    process.stderr.write(`[${component}] cannot start: ${message}\n`);
    process.exit(1);
  }
}
