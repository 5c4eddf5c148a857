/** CPU time and resident memory of a process, from Linux's /proc (all threads of the process included). */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds the process has used so far; null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / ticksPerSecond();
  } catch {
    return null;
  }
}

/** Resident set size in bytes; null once the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface Watched {
  label: string;
  pid: number;
}

export interface CpuUse {
  label: string;
  /** Percent of one core over the window. */
  percent: number;
}

/** Percent of one core each process used over `windowMs` of wall time. */
export async function sampleCpu(processes: Watched[], windowMs: number): Promise<CpuUse[]> {
  const before = processes.map((p) => cpuSeconds(p.pid));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const seconds = (performance.now() - t0) / 1000;
  return processes.map((p, i) => {
    const a = before[i];
    const b = cpuSeconds(p.pid);
    const percent = a == null || b == null ? Number.NaN : ((b - a) / seconds) * 100;
    return { label: p.label, percent };
  });
}
