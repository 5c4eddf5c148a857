/**
 * `npm run build:measure`: bundle sizes, and the Lambda bundle's cold start — a fresh `node` process
 * imports dist/functions/lambda.mjs and invokes `handler` with an API Gateway HTTP API event until the
 * first 201 — against a running database (MONGODB_URI, else a dev database started for the run).
 * Twice per round: as Lambda runs it (the first request connects), and with the MongoClient connected
 * first, to tell the connection apart from the rest. Medians of `--runs` rounds (default 7).
 * Numbers for the README (Deploying → Bundles, AWS Lambda); nothing here passes or fails.
 */
import { readFileSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { median } from "../../bench/stats.ts";
import { generateApiKey, hashApiKey } from "../../shared/auth/api-keys.ts";
import { REPO_ROOT } from "../devdb/ferretdb-build.ts";
import { startDevDb } from "../devdb/launcher.ts";
import { BUNDLES, buildBundles } from "./bundle.ts";
import { type LambdaEventV2, lambdaEvent, startLambdaProcess } from "./lambda-process.ts";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 7;
const say = (line: string) => process.stdout.write(`${line}\n`);
const ms = (n: number) => `${n.toFixed(0)} ms`;

const outDir = join(REPO_ROOT, "dist");
await buildBundles(outDir);
say("bundle sizes (minified, with every dependency):");
for (const b of BUNDLES) {
  const file = join(outDir, b.out);
  const bytes = statSync(file).size;
  const gz = gzipSync(readFileSync(file)).length;
  say(
    `  dist/${b.out.padEnd(22)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB  (gzip ${(gz / 1024).toFixed(0)} KiB)`,
  );
}

const db = process.env.MONGODB_URI
  ? undefined
  : await startDevDb({ dir: join(tmpdir(), `tailcast-measure-${process.pid}`) });
const uri = process.env.MONGODB_URI ?? db?.uri ?? "";
const key = generateApiKey();
const env = {
  MONGODB_URI: uri,
  TAILCAST_DB: "tailcast_measure",
  TAILCAST_LOG_LEVEL: "warn",
  TAILCAST_API_KEYS: JSON.stringify([{ id: "measure", sha256: hashApiKey(key), channels: ["*"] }]),
  TAILCAST_BUS_MAX_DOCS: "10000",
};
const template = JSON.parse(
  readFileSync(join(REPO_ROOT, "test", "fixtures", "lambda", "http-api-v2.json"), "utf8"),
) as LambdaEventV2;
const event = () =>
  lambdaEvent(template, {
    method: "POST",
    url: "/v1/channels/measure/messages",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ data: { at: Date.now() } }),
  });

interface Round {
  wallMs: number;
  sinceStartMs: number;
  cpuMs: number;
  bootMs: number;
  importMs: number;
  connectMs: number;
  handlerMs: number;
  warmMs: number;
}

async function round(preconnect: boolean): Promise<Round> {
  const spawned = performance.now();
  const lambda = startLambdaProcess({ bundle: join(outDir, "functions", "lambda.mjs"), env, preconnect });
  try {
    const first = await lambda.invoke(event());
    const wallMs = performance.now() - spawned;
    const ready = await lambda.ready;
    if (first.result.statusCode !== 201) throw new Error(`first invocation: ${first.result.body}`);
    const warm = await lambda.invoke(event());
    return {
      wallMs,
      sinceStartMs: first.sinceStartMs,
      cpuMs: first.cpuSinceStartMs,
      bootMs: ready.bootMs,
      importMs: ready.importMs,
      connectMs: ready.connectMs ?? Number.NaN,
      handlerMs: first.handlerMs,
      warmMs: warm.handlerMs,
    };
  } finally {
    await lambda.close();
  }
}

try {
  await round(false); // creates the bus: a deployed function finds it there
  const cold: Round[] = [];
  const connected: Round[] = [];
  for (let i = 0; i < runs; i++) {
    cold.push(await round(false));
    connected.push(await round(true));
  }
  const m = (rs: Round[], k: keyof Round) => median(rs.map((r) => r[k]));
  const connect = m(connected, "connectMs");
  say(`\nLambda cold start, median of ${runs} fresh processes (database: ${db?.kind ?? "MONGODB_URI"}):`);
  const rows: Array<[string, string]> = [
    ["process start → first 201", `${ms(m(cold, "sinceStartMs"))} (CPU ${ms(m(cold, "cpuMs"))})`],
    ["  node start-up", ms(m(cold, "bootMs"))],
    ["  import of lambda.mjs (init)", ms(m(cold, "importMs"))],
    ["  first invocation (connect, bus check, insert)", ms(m(cold, "handlerMs"))],
    ["MongoClient connect alone", ms(connect)],
    [
      "process start → first 201 without the connect",
      `${ms(m(connected, "sinceStartMs") - connect)} (CPU ${ms(m(connected, "cpuMs"))})`,
    ],
    ["  of which the first invocation", ms(m(connected, "handlerMs"))],
    ["warm invocation", `${m(cold, "warmMs").toFixed(1)} ms`],
    ["spawn → 201 seen by the parent", ms(m(cold, "wallMs"))],
  ];
  for (const [what, value] of rows) say(`  ${what.padEnd(50)} ${value}`);
  say(
    `  (load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} on ${cpus().length} CPUs)`,
  );
} finally {
  await db?.stop();
}
