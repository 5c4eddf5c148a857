/**
 * Reading the environment, the one way every component does it: a zod schema per concern, read once
 * at start. Every bad variable is reported alike — `Invalid configuration: VAR: problem; VAR2: …` — as
 * a TailcastError `invalid_config` (entry points print it and exit: shared/startup.ts). A variable set
 * to "" or blanks counts as unset (`PORT=${PORT}` with PORT unset gives "", which must not mean 0).
 */
import { z } from "zod";
import { ErrorCode, TailcastError } from "./errors.ts";

export type Env = Record<string, string | undefined>;

/** The one format of a configuration problem; `variable` null for one about several variables. */
export function configError(variable: string | null, problem: string, cause?: unknown): TailcastError {
  const text = variable === null ? problem : `${variable}: ${problem}`;
  return new TailcastError(ErrorCode.invalidConfig, `Invalid configuration: ${text}`, { cause });
}

/** The environment as `schema` reads it; throws one `invalid_config` naming every bad variable. */
export function readEnv<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  // The variable's name is the whole path a reader needs (not the index inside a list).
  const problems = result.error.issues.map((i) =>
    i.path.length === 0 ? i.message : `${String(i.path[0])}: ${i.message}`,
  );
  throw new TailcastError(ErrorCode.invalidConfig, `Invalid configuration: ${problems.join("; ")}`);
}

/** An integer from `min` to `max`; `message` replaces zod's own for any problem. */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER, message?: string) =>
  message === undefined
    ? z.coerce.number<string>().int().min(min).max(max)
    : z.coerce.number<string>({ error: message }).int(message).min(min, message).max(max, message);

export const port = () => int(1, 65535);

/** A comma-separated list; blanks between commas are dropped. */
export const list = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);
