/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile | dir> [top] [skip-ms]`: the functions with the most self
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

export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Samples per node, counting only those taken `skipMs` or more after the profile started (skips startup). */
function hitsAfter(profile: CpuProfile, skipMs: number): Map<number, number> {
  const hits = new Map<number, number>();
  if (!profile.samples || !profile.timeDeltas || skipMs <= 0) {
    for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
    return hits;
  }
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += (profile.timeDeltas[i] ?? 0) / 1000;
    const id = profile.samples[i] as number;
    if (t >= skipMs) hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  return hits;
}

export function hotSpots(profile: CpuProfile, top: number, root = process.cwd(), skipMs = 0): HotSpot[] {
  const self = new Map<string, { name: string; where: string; hits: number }>();
  const counts = hitsAfter(profile, skipMs);
  let busy = 0;
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const hits = counts.get(node.id) ?? 0;
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
  const [path, topArg, skipArg] = process.argv.slice(2);
  if (!path) {
    console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile | dir> [top] [skip-ms]");
    process.exit(2);
  }
  for (const file of await files(path)) {
    const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
    console.log(`\n${file}`);
    for (const h of hotSpots(profile, Number(topArg ?? 25), process.cwd(), Number(skipArg ?? 0))) {
      console.log(`${h.selfPercent.toFixed(1).padStart(5)}%  ${h.name}  ${h.where}`);
    }
  }
}
