/**
 * Logging, on pino (README "Logs"): JSON lines by default, for log shippers; `TAILCAST_LOG_FORMAT=pretty`
 * (what `npm start` sets) renders the same records as one readable line each with pino-pretty. Both are
 * written synchronously to stdout — no transport worker thread — so a process that exits right after
 * logging loses nothing, and a test reading the output sees every line.
 *
 * Every line carries `component` and `node` (and whatever `with()` binds: `requestId` on ingest,
 * `connId` on tailers); errors go under `err` and are serialised by pino's err serializer. Secrets are
 * masked before pino sees them (shared/log-redact.ts).
 */
import { createRequire } from "node:module";
import { type DestinationStream, type Logger as Pino, pino, stdSerializers } from "pino";
import { loadLogConfig } from "./config.ts";
import { configError } from "./env.ts";
import { isSecretKey, REDACTED, scrub, scrubText } from "./log-redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
/** `text` is the name `pretty` had before pino; it is still accepted. */
export type LogFormat = "json" | "pretty" | "text";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The same logger for a part of this component: `component` becomes `<component>:<sub>`. */
  child(sub: string): Logger;
  /** The same logger with `fields` on every line (a request id, a connection id). */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** The process's name in the fleet (TAILCAST_NODE_ID); on every line as `node`. */
  node?: string;
  /** Receives each line without its newline, instead of stdout (tests). */
  write?: (line: string) => void;
  /** Colours in pretty output; default: when stdout is a terminal or FORCE_COLOR is set. */
  colorize?: boolean;
}

/**
 * pino-pretty is loaded only for `pretty`, a development format: production bundles (infra/build/) log
 * JSON and carry no copy of it (README "Bundles").
 */
function loadPretty(): typeof import("pino-pretty") {
  try {
    return createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
  } catch {
    throw configError(
      "TAILCAST_LOG_FORMAT",
      '"pretty" needs the pino-pretty package, which production bundles do not carry; use "json"',
    );
  }
}

/** The one-line pretty rendering, shared by `npm start` and anyone using `format: "pretty"`. */
function prettyLine(colorize: boolean): (json: string) => string {
  return loadPretty().prettyFactory({
    colorize,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,node,component",
    messageFormat: "{if node}{node} {end}[{component}] {msg}",
    errorLikeObjectKeys: ["err"],
  });
}

function destination(options: LoggerOptions, pretty: boolean): DestinationStream {
  const render = pretty
    ? prettyLine(
        options.colorize ??
          (!("NO_COLOR" in process.env) && (process.stdout.isTTY === true || "FORCE_COLOR" in process.env)),
      )
    : (json: string) => json;
  const { write } = options;
  if (write) return { write: (json) => write(render(json).replace(/\n$/, "")) };
  const out = pino.destination({ dest: 1, sync: true });
  return pretty ? { write: (json) => out.write(render(json)) } : out;
}

function rootPino(options: LoggerOptions): Pino {
  const fromEnv = options.level === undefined || options.format === undefined ? loadLogConfig() : undefined;
  const level = options.level ?? fromEnv?.level ?? "info";
  const format = options.format ?? fromEnv?.format ?? "json";
  return pino(
    {
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: (err: unknown) => scrub(serializeError(err)) },
    },
    destination(options, format !== "json"),
  );
}

/** pino's err serializer (type, message, stack, cause, own properties), as a plain object `scrub` reads. */
function serializeError(err: unknown): unknown {
  return err instanceof Error ? { ...stdSerializers.err(err) } : err;
}

/** Fields as they are logged: every string scrubbed, an Error under any key serialised like `err`. */
function clean(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (isSecretKey(k)) out[k] = REDACTED;
    else out[k] = k === "err" ? v : scrub(v instanceof Error ? serializeError(v) : v);
  }
  return out;
}

function wrap(root: Pino, bindings: LogFields): Logger {
  let bound: Pino | undefined;
  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (!root.isLevelEnabled(level)) return;
    bound ??= root.child(bindings);
    bound[level](fields ? clean(fields) : {}, scrubText(msg));
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    child: (sub) => wrap(root, { ...bindings, component: `${String(bindings.component)}:${sub}` }),
    with: (fields) => wrap(root, { ...bindings, ...clean(fields) }),
  };
}

/** Level and format not given are read from the environment (loadLogConfig). */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  return wrap(rootPino(options), {
    component,
    ...(options.node === undefined ? {} : { node: options.node }),
  });
}
