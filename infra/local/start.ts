/**
 * `npm start`: the whole stack on one machine — dev database, one ingest function, two tailer nodes —
 * with prefixed one-line logs, stopped together on Ctrl-C (or when any part dies).
 *
 * Env: TAILCAST_INGEST_PORT (8080), TAILCAST_TAILER_PORTS (8081,8082), MONGODB_URI (else the dev
 * database: mongod on PATH, else FerretDB built by the project, data in .cache/local-data).
 */
import { join } from "node:path";
import { z } from "zod";
import { list, port, readEnv } from "../../shared/env.ts";
import { REPO_ROOT } from "../devdb/ferretdb-build.ts";
import { DEV_CAPPED_CLEANUP_INTERVAL, type DevDb, startDevDb } from "../devdb/launcher.ts";
import { type Component, startComponent } from "./component.ts";

const stackSchema = z.object({
  TAILCAST_INGEST_PORT: port().default(8080),
  TAILCAST_TAILER_PORTS: list.pipe(z.array(port()).min(1)).default([8081, 8082]),
  TAILCAST_DEVDB_DIR: z.string().default(join(REPO_ROOT, ".cache", "local-data")),
  // Only whether it is set: the components read and check it themselves.
  TAILCAST_BUS_MAX_DOCS: z.string().optional(),
});

const say = (line: string) => process.stdout.write(`${line}\n`);
const parts: Component[] = [];
let db: DevDb | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say("[stack] stopping…");
    await Promise.allSettled([...parts].reverse().map((p) => p.stop()));
    await db?.stop();
  }
  process.exit(code);
}

async function main(): Promise<void> {
  const env = readEnv(stackSchema, process.env);
  const [ingest, tailers] = [env.TAILCAST_INGEST_PORT, env.TAILCAST_TAILER_PORTS];
  db = await startDevDb({
    dir: env.TAILCAST_DEVDB_DIR,
    cappedCleanupInterval: DEV_CAPPED_CLEANUP_INTERVAL,
    log: (l) => say(`[devdb] ${l}`),
  });
  const origins = tailers.flatMap((p) => [`http://localhost:${p}`, `http://127.0.0.1:${p}`]);
  // Local development: no credentials to set up. Both components say so loudly, and so does the demo page.
  const common: Record<string, string> = {
    MONGODB_URI: db.uri,
    TAILCAST_LOG_FORMAT: "pretty",
    // The components write to a pipe (read here line by line); keep pino-pretty's colours for a terminal.
    ...(process.stdout.isTTY ? { FORCE_COLOR: "1" } : {}),
    TAILCAST_AUTH: "off",
    // Ctrl-C stops the stack with SIGTERM, which drains a tailer over this window (README "Drain").
    TAILCAST_DRAIN_WINDOW_MS: "500",
  };
  // FerretDB (docs/ferretdb.md): the project's build polls at the same cost at any bus size, but
  // a cursor open, a recovery from the bus and a history page still read the whole bus, about 50-60 µs of
  // CPU per document: 1 s on a full 20,000-document bus, 6 s per node start on a full 100,000-document one.
  // An unpatched binary (TAILCAST_FERRETDB_BIN) also reads the whole bus on every tail poll.
  if (db.kind === "ferretdb" && env.TAILCAST_BUS_MAX_DOCS === undefined) {
    common.TAILCAST_BUS_MAX_DOCS = db.patchedFerretDB ? "20000" : "1000";
  }
  const watch = (c: Component) => {
    parts.push(c);
    void c.exited.then((exit) => {
      if (stopping) return;
      say(
        `[stack] ${c.kind} on port ${c.port} exited (${exit.signal ?? `code ${exit.code}`}); stopping the stack`,
      );
      void stopAll(1);
    });
    return c;
  };
  const functions = watch(
    await startComponent({
      kind: "functions",
      port: ingest,
      env: { ...common, TAILCAST_CORS_ORIGINS: origins.join(",") },
      onLine: say,
    }),
  );
  await functions.ready();
  const nodes = await Promise.all(
    tailers.map(async (port, i) =>
      watch(
        await startComponent({
          kind: "tailer",
          port,
          env: {
            ...common,
            TAILCAST_NODE_ID: `tailer-${i + 1}`,
            TAILCAST_INGEST_URL: `http://localhost:${ingest}`,
            TAILCAST_PEER_URLS: tailers.map((p) => `http://localhost:${p}`).join(","),
          },
          onLine: say,
        }),
      ),
    ),
  );
  await Promise.all(nodes.map((n) => n.ready()));
  say("");
  say(
    "tailcast is running — AUTH IS OFF (TAILCAST_AUTH=off): anyone can publish and subscribe. Local development only.",
  );
  say(`  database      ${db.uri} (${db.kind})`);
  say(`  ingest        http://localhost:${ingest}   (GET /healthz, /readyz)`);
  for (const n of nodes) say(`  chat page     http://localhost:${n.port}/   (tailer, GET /stats)`);
  say(
    `  fleet status  http://localhost:${nodes[0]?.port ?? tailers[0]}/status   (every node and the bus; on any tailer)`,
  );
  say("  publish:");
  say(
    `    curl -X POST http://localhost:${ingest}/v1/channels/chat/messages -H 'content-type: application/json' \\`,
  );
  say(`         -d '{"event":"chat","data":{"user":"curl","text":"hello"}}'`);
  say("  Ctrl-C stops everything.");
  say("");
}

process.once("SIGINT", () => void stopAll(0));
process.once("SIGTERM", () => void stopAll(0));
main().catch((err: unknown) => {
  say(`[stack] failed to start: ${err instanceof Error ? err.message : String(err)}`);
  void stopAll(1);
});
