/**
 * The container images (infra/docker/*.Dockerfile) and the compose file (infra/compose/compose.yaml),
 * checked statically — no container engine runs here: every environment variable they set is one the
 * code reads, every port is the one the component listens on, every path (bundle entry, health
 * endpoint, COPY source, mounted file) exists in the code, the build or the repository.
 */

import { existsSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { CORE_SCHEMA, load, mergeTag } from "js-yaml";
import { describe, expect, it } from "vitest";
import { OPTIONAL_EXTERNALS } from "../../infra/build/bundle.ts";
import { loadIngestConfig, loadTailerConfig } from "../../shared/config.ts";
import {
  bundleProblem,
  type ComponentName,
  defaultPort,
  envNamesRead,
  pathsServed,
  REPO_ROOT,
  readRepoFile,
} from "../helpers/deploy-code.ts";
import { envOf, parseDockerfile, type Stage } from "../helpers/dockerfile.ts";

const IMAGES: Record<ComponentName, { file: string; entry: string }> = {
  functions: { file: "infra/docker/functions.Dockerfile", entry: "dist/functions/node.mjs" },
  tailer: { file: "infra/docker/tailer.Dockerfile", entry: "dist/tailer/main.mjs" },
};

const notRead = (component: ComponentName, names: Iterable<string>) => {
  const read = envNamesRead(component);
  return [...names].filter((n) => !read.has(n));
};

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  restart?: string;
  stop_grace_period?: string;
}

const COMPOSE_DIR = join(REPO_ROOT, "infra/compose");
// Compose reads YAML merge keys (`<<: *tailer`); js-yaml's core schema needs them enabled.
const compose = load(readRepoFile("infra/compose/compose.yaml"), {
  schema: CORE_SCHEMA.withTags(mergeTag),
}) as {
  services: Record<string, ComposeService>;
};

/** Services built from one of our Dockerfiles, with the component each runs. */
function ourServices(): Array<[string, ComposeService, ComponentName]> {
  return Object.entries(compose.services).flatMap(([name, s]) => {
    const component = (Object.keys(IMAGES) as ComponentName[]).find(
      (c) => s.build?.dockerfile === IMAGES[c].file,
    );
    return component ? [[name, s, component] as [string, ComposeService, ComponentName]] : [];
  });
}

/**
 * Packages a bundle still loads at run time, other than Node's own modules and the optional
 * dependencies the build leaves out on purpose (OPTIONAL_EXTERNALS: the MongoDB driver's optional peers,
 * ws's native helpers, the demo's fallback build — each loaded only when configured or missing).
 */
function externalImports(bundle: string): string[] {
  const mongodb = JSON.parse(readRepoFile("node_modules/mongodb/package.json")) as {
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  const optional = [...Object.keys(mongodb.peerDependenciesMeta ?? {}), ...OPTIONAL_EXTERNALS];
  // Doc comments carried over from the sources show imports too.
  const code = bundle.replace(/\/\*\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specifiers = [
    ...code.matchAll(/(?:^|;)\s*import\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']/gm),
    // esbuild writes the bundled code's `require("x")` as `__require("x")`.
    ...code.matchAll(/(?:^|[^\w$.])(?:__)?(?:import|require)\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1] as string);
  const builtin = new Set(builtinModules);
  return [...new Set(specifiers)].filter(
    (s) =>
      !s.startsWith("node:") &&
      !s.startsWith(".") &&
      !builtin.has(s.split("/")[0] as string) &&
      !optional.some((o) => s === o || s.startsWith(`${o}/`)),
  );
}

const seconds = (d: string) => {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`unreadable duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as "ms" | "s" | "m"];
};

describe.each(Object.entries(IMAGES) as Array<[ComponentName, { file: string; entry: string }]>)(
  "%s image",
  (component, { file, entry }) => {
    const stages = parseDockerfile(readRepoFile(file));
    const runtime = stages.at(-1) as Stage;
    const all = (keyword: string, stage?: Stage) =>
      (stage ? [stage] : stages).flatMap((s) => s.instructions.filter((i) => i.keyword === keyword));

    it("builds in one stage and runs in another, from node:20-slim, as a non-root user", () => {
      expect(stages.length).toBeGreaterThanOrEqual(2);
      const build = stages[0] as Stage;
      const runs = all("RUN", build).map((i) => i.args);
      expect(runs).toContain("npm ci");
      expect(runs).toContain("npm run build");
      expect(runtime.from).toBe("node:20-slim");
      const user = all("USER", runtime).at(-1)?.args;
      expect(user).toBeDefined();
      expect(["root", "0"]).not.toContain(user);
    });

    it("runs the bundle with plain node, and the build emits it", () => {
      expect(all("CMD", runtime).at(-1)?.exec).toEqual(["node", entry]);
      expect([bundleProblem(entry)].filter(Boolean), "what npm run build lacks").toEqual([]);
      // The runtime stage has the bundle and nothing to install: no npm, no node_modules.
      expect(all("RUN", runtime)).toEqual([]);
      const copies = all("COPY", runtime);
      expect(copies.length).toBeGreaterThan(0);
      for (const c of copies) {
        expect(c.flags.from, c.args).toBe(stages[0]?.name);
        expect(c.args).not.toContain("node_modules");
        const [source = ""] = c.args.split(/\s+/);
        expect(entry.startsWith(source.replace(/^\/src\//, "")), `${source} holds ${entry}`).toBe(true);
      }
    });

    const built = existsSync(join(REPO_ROOT, entry));
    if (!built) console.warn(`[unit] ${entry} is not built: its imports are not checked (npm run build)`);
    it.skipIf(!built)("the built bundle needs no package at run time: the image has no node_modules", () => {
      expect(externalImports(readRepoFile(entry))).toEqual([]);
    });

    it("copies into the build only what the repository has", () => {
      for (const c of all("COPY").filter((i) => i.flags.from === undefined)) {
        const sources = c.args.split(/\s+/).slice(0, -1);
        for (const s of sources) expect(existsSync(join(REPO_ROOT, s)), `${file}: COPY ${s}`).toBe(true);
      }
    });

    it("listens where the component listens, and sets only variables the code reads", () => {
      const env = envOf(runtime);
      const port = defaultPort(component);
      expect(env.get("PORT")).toBe(String(port));
      expect(all("EXPOSE", runtime).map((i) => i.args)).toEqual([String(port)]);
      expect(
        notRead(
          component,
          [...env.keys()].filter((n) => n !== "NODE_ENV"),
        ),
      ).toEqual([]);
    });

    it("checks its health with node's fetch on a path the component serves", () => {
      const check = all("HEALTHCHECK", runtime)[0];
      expect(check?.exec?.slice(0, 2)).toEqual(["node", "-e"]);
      const script = check?.exec?.[2] ?? "";
      expect(script).toContain("fetch(");
      const path = /\/(healthz|readyz)\b/.exec(script)?.[0];
      expect(path).toBeDefined();
      expect([...pathsServed(component)]).toContain(path);
      expect(script).toContain("process.env.PORT");
    });
  },
);

describe("compose file", () => {
  const services = compose.services;

  it("runs MongoDB as a one-node replica set, initiated by a one-shot service", () => {
    const mongo = services.mongo as ComposeService;
    expect(mongo.image).toBe("mongo:7");
    expect(mongo.command).toEqual(expect.arrayContaining(["--replSet", "rs0"]));
    const init = services["mongo-init"] as ComposeService;
    expect(init.restart).toBe("no");
    expect(init.depends_on).toEqual({ mongo: { condition: "service_healthy" } });
    expect(String(init.command)).toContain(
      'rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] })',
    );
    for (const [name, s] of ourServices()) {
      expect(s.depends_on, name).toEqual({ "mongo-init": { condition: "service_completed_successfully" } });
      expect(s.environment?.MONGODB_URI, name).toBe("mongodb://mongo:27017/?replicaSet=rs0");
    }
  });

  it("has the ingest function and two tailers, built from the Dockerfiles in the repository", () => {
    const kinds = ourServices().map(([, , c]) => c);
    expect(kinds.filter((c) => c === "functions")).toHaveLength(1);
    expect(kinds.filter((c) => c === "tailer")).toHaveLength(2);
    for (const [name, s] of ourServices()) {
      const context = join(COMPOSE_DIR, s.build?.context ?? "?");
      expect(context, name).toBe(REPO_ROOT.replace(/\/$/, ""));
      expect(existsSync(join(context, s.build?.dockerfile ?? "?")), name).toBe(true);
    }
  });

  it("sets only environment variables the code reads", () => {
    const unknown = ourServices().flatMap(([name, s, c]) =>
      notRead(c, Object.keys(s.environment ?? {})).map((n) => `${name}: ${n}`),
    );
    expect(unknown, "variables no code reads (yet)").toEqual([]);
  });

  it("publishes each component on the port it listens on", () => {
    for (const [name, s] of ourServices()) {
      const port = s.environment?.PORT ?? String(defaultPort(name === "ingest" ? "functions" : "tailer"));
      for (const mapping of s.ports ?? []) expect(mapping.split(":").at(-1), name).toBe(port);
    }
  });

  it("puts HAProxy in front of the tailers it runs, with the shipped config", () => {
    const lb = services.lb as ComposeService;
    const [source = "", target] = (lb.volumes?.[0] ?? "").split(":");
    expect(target).toBe("/usr/local/etc/haproxy/haproxy.cfg");
    const config = readRepoFile(join("infra/compose", source));
    expect(join(COMPOSE_DIR, source)).toBe(join(REPO_ROOT, "infra/lb/haproxy.cfg"));
    const bind = /frontend tailcast\n\s+bind :(\d+)/.exec(config)?.[1];
    expect(lb.ports).toContain(`8081:${bind}`);
    const servers = [...config.matchAll(/^\s+server (\S+) (\S+):(\d+)$/gm)];
    expect(servers.length).toBeGreaterThan(0);
    const tailers = ourServices().filter(([, , c]) => c === "tailer");
    for (const [, name, host, port] of servers) {
      expect(host, name).toBe(name);
      const service = tailers.find(([n]) => n === host);
      expect(service, `haproxy server ${host}`).toBeDefined();
      expect(service?.[1].environment?.PORT ?? String(defaultPort("tailer"))).toBe(port);
    }
    expect(servers.map((s) => s[1]).sort()).toEqual(tailers.map(([n]) => n).sort());
  });

  it("gives a stopping tailer longer than its drain timeout", () => {
    // Each service's own setting, else the default, as the component reads it.
    for (const [name, s, component] of ourServices()) {
      const env = Object.fromEntries(
        Object.entries(s.environment ?? {}).filter(([k]) => k === "TAILCAST_DRAIN_TIMEOUT_MS"),
      );
      const drainMs =
        component === "tailer" ? loadTailerConfig(env).drain.timeoutMs : loadIngestConfig(env).drainTimeoutMs;
      expect(seconds(s.stop_grace_period ?? "10s") * 1000, name).toBeGreaterThan(drainMs);
    }
  });
});
