/** The child side of bench/procs.ts: read the config, answer the runner's commands over IPC. */
import { readFileSync } from "node:fs";

export interface ChildRequest {
  id: number;
  type: string;
  payload: unknown;
}

export type ChildReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type Handlers = Record<string, (payload: never) => unknown | Promise<unknown>>;

/** The config the runner wrote for this process (read at start; the runner removes the file). */
export function childConfig<T>(): T {
  const file = process.env.BENCH_CHILD_CONFIG_FILE;
  if (file === undefined) {
    throw new Error("BENCH_CHILD_CONFIG_FILE is not set: this script is started by bench/run.ts");
  }
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/** Serves commands until the runner goes away (IPC disconnect) or sends SIGTERM; `onStop` cleans up. */
export function serve(handlers: Handlers, onStop: () => Promise<void> | void = () => {}): void {
  if (!process.send) throw new Error("no IPC channel: this script is started by bench/run.ts");
  const all: Handlers = { ping: () => "pong", ...handlers };
  process.on("message", (raw) => {
    const { id, type, payload } = raw as ChildRequest;
    const handler = all[type];
    const reply = (r: ChildReply) => process.send?.(r);
    if (!handler) return reply({ id, ok: false, error: `unknown command ${type}` });
    Promise.resolve()
      .then(() => handler(payload as never))
      .then(
        (result) => reply({ id, ok: true, result: result ?? null }),
        (err: unknown) =>
          reply({ id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2000).unref();
    try {
      await onStop();
    } finally {
      process.exit(0);
    }
  };
  process.on("disconnect", () => void stop());
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
