/** A small Dockerfile reader for the static checks: instructions by build stage, continuations joined. */

export interface Instruction {
  keyword: string;
  /** The rest of the line, continuations joined. */
  args: string;
  /** Exec form (`["node", "x"]`) parsed, else undefined. */
  exec?: string[];
  /** Flags such as `--from=build`, `--chown=node:node`, `--interval=10s`. */
  flags: Record<string, string>;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseInstruction(line: string): Instruction {
  const [, keyword = "", rest = ""] = /^(\S+)\s*(.*)$/s.exec(line) ?? [];
  const flags: Record<string, string> = {};
  let args = rest;
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(args); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(args)) {
    flags[m[1] as string] = m[2] as string;
    args = args.slice(m[0].length);
  }
  let exec: string[] | undefined;
  const json = /^(?:CMD\s+)?(\[.*\])$/s.exec(args)?.[1];
  if (json) {
    const parsed: unknown = JSON.parse(json);
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === "string")) exec = parsed;
  }
  return { keyword: keyword.toUpperCase(), args, flags, ...(exec ? { exec } : {}) };
}

export function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    if (/^\s*#/.test(raw) && current === "") continue;
    if (/^\s*#/.test(raw)) continue; // a comment inside a continuation
    const continued = /\\\s*$/.test(raw);
    current += `${raw.replace(/\\\s*$/, "").trim()} `;
    if (!continued) {
      if (current.trim() !== "") lines.push(current.trim());
      current = "";
    }
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const ins = parseInstruction(line);
    if (ins.keyword === "FROM") {
      const [from = "", , name] = ins.args.split(/\s+/);
      stages.push({ from, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return stages;
}

/** `ENV A=1 B=2` (and the old `ENV A 1`) of a stage, in order. */
export function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions.filter((i) => i.keyword === "ENV")) {
    if (!ins.args.includes("=")) {
      const [k = "", ...v] = ins.args.split(/\s+/);
      env.set(k, v.join(" "));
      continue;
    }
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) {
      env.set(m[1] as string, (m[2] as string).replace(/^"|"$/g, ""));
    }
  }
  return env;
}
