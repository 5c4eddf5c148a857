/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile | dir> [top]`: the functions with the most self
 * time in V8 CPU profiles (what `node --cpu-prof` writes; `npm run bench -- --profile` runs the tailers
 * that way), with their share of the samples that were not idle.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface HotSpot {
  name: string;
  where: string;
  selfPercent: number;
}

export function hotSpots(profile: { nodes: ProfileNode[] }, top: number, root = process.cwd()): HotSpot[] {
  const self = new Map<string, { name: string; where: string; hits: number }>();
  let busy = 0;
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const hits = node.hitCount ?? 0;
    if (functionName === "(idle)" || functionName === "(program)" || hits === 0) continue;
    busy += hits;
    const where = url ? `${relative(root, url.replace(/^file:\/\//, ""))}:${lineNumber + 1}` : "";
    const key = `${functionName}@${where}`;
    const entry = self.get(key) ?? { name: functionName || "(anonymous)", where, hits: 0 };
    entry.hits += hits;
    self.set(key, entry);
  }
  return [...self.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, selfPercent: (e.hits / Math.max(1, busy)) * 100 }));
}

async function files(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of await readdir(path)) out.push(...(await files(join(path, entry))));
  return out.filter((f) => f.endsWith(".cpuprofile"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, topArg] = process.argv.slice(2);
  if (!path) {
    console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile | dir> [top]");
    process.exit(2);
  }
  for (const file of await files(path)) {
    const profile = JSON.parse(await readFile(file, "utf8")) as { nodes: ProfileNode[] };
    console.log(`\n${file}`);
    for (const h of hotSpots(profile, Number(topArg ?? 25))) {
      console.log(`${h.selfPercent.toFixed(1).padStart(5)}%  ${h.name}  ${h.where}`);
    }
  }
}
