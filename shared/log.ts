/**
 * One line per event, prefixed by component, so the interleaved output of `npm start` stays readable.
 * `TAILCAST_LOG_FORMAT=json` switches to JSON lines for log shippers (both read by shared/config.ts).
 */
import { loadLogConfig } from "./config.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(component: string): Logger;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function fieldText(fields: LogFields | undefined): string {
  if (!fields) return "";
  let out = "";
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const text =
      v instanceof Error ? `${v.name}: ${v.message}` : typeof v === "string" ? v : JSON.stringify(v);
    out += ` ${k}=${/[\s"]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return out;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
}

/** Level and format not given are read from the environment (loadLogConfig). */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const fromEnv = options.level === undefined || options.format === undefined ? loadLogConfig() : undefined;
  const min = rank[options.level ?? fromEnv?.level ?? "info"];
  const format = options.format ?? fromEnv?.format ?? "text";
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[level] < min) return;
    const time = new Date().toISOString();
    if (format === "json") {
      const extra = Object.fromEntries(
        Object.entries(fields ?? {}).map(([k, v]) => [
          k,
          v instanceof Error ? { name: v.name, message: v.message } : v,
        ]),
      );
      write(JSON.stringify({ time, level, component, msg, ...extra }));
    } else {
      write(`${time} ${level.toUpperCase().padEnd(5)} [${component}] ${msg}${fieldText(fields)}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (sub) => createLogger(`${component}:${sub}`, options),
  };
}
