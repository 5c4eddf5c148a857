/** A process's JSON log lines (README "Logs"), collected as they come, for tests that read them. */

export type LogRecord = Record<string, unknown>;

/** The JSON records among `lines`; anything else a process printed is skipped. */
export function logRecords(lines: readonly string[]): LogRecord[] {
  return lines.flatMap((line) => {
    try {
      const record: unknown = JSON.parse(line);
      return record !== null && typeof record === "object" ? [record as LogRecord] : [];
    } catch {
      return [];
    }
  });
}

/** Every line a process writes, kept whole (a component's `output()` keeps only the last ones). */
export class LineLog {
  readonly lines: string[] = [];
  readonly onLine = (line: string): void => {
    this.lines.push(line);
  };

  records(match: Partial<Record<string, unknown>> = {}): LogRecord[] {
    return logRecords(this.lines).filter((r) => Object.entries(match).every(([k, v]) => r[k] === v));
  }
}
