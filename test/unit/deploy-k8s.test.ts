/**
 * infra/k8s, rendered the way kustomize would (test/helpers/kustomize.ts) — the base and the
 * production overlay — and every object validated against the Kubernetes schemas (kubernetes-models).
 * Then what the schemas cannot know: environment names, ports, probe and scrape paths match the code,
 * the selectors and references match each other, the preStop hook and the drain fit in the grace
 * period, every Secret the manifests use is one the README's steps create, and the Ingress
 * keeps its WebSocket connections longer than the tailer's heartbeats, with affinity only for Socket.IO.
 */
import { join } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { Server as SocketIoServer } from "socket.io";
import { describe, expect, it } from "vitest";
import { loadIngestConfig, loadTailerConfig } from "../../shared/config.ts";
import { WS_PATH } from "../../tailer/ws.ts";
import {
  type ComponentName,
  defaultPort,
  envNamesRead,
  pathsServed,
  readRepoFile,
  tailerHeartbeats,
} from "../helpers/deploy-code.ts";
import {
  type JsonObject,
  K8S_DIR,
  type K8sObject,
  readYaml,
  renderKustomization,
} from "../helpers/kustomize.ts";

/** The schema of each kind the manifests use; anything else is refused. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/Ingress": Ingress,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
};

function schemaProblem(o: K8sObject): string | undefined {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) return `no schema for ${o.apiVersion} ${o.kind}`;
  try {
    new Model(o as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const COMPONENTS: Record<ComponentName, string> = { tailer: "tailcast-tailer", functions: "tailcast-ingest" };
const secretExample = readYaml(join(K8S_DIR, "base", "secret.example.yaml"))[0] as K8sObject;

interface Container {
  name: string;
  image: string;
  ports: Array<{ name: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { requests?: Record<string, string> };
}

const spec = (o: K8sObject) => o.spec as JsonObject;

/**
 * The longest a preStop command can run: `sleep <s>`, or a `node -e` script whose request gives up
 * (`AbortSignal.timeout(<ms>)`). Anything else has no bound this test can see, and fails it.
 */
function preStopMs(command: string[] | undefined): number {
  const [program, arg, script] = command ?? [];
  if (program === "sleep" && /^\d+$/.test(arg ?? "")) return Number(arg) * 1000;
  const timeout = /\bsignal: AbortSignal\.timeout\((\d+)\)/.exec(script ?? "");
  if (program === "node" && arg === "-e" && timeout) return Number(timeout[1]);
  throw new Error(`preStop ${JSON.stringify(command)} has no bound on how long it runs`);
}
function named(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}

describe.each(["base", "overlays/production"])("infra/k8s/%s", (dir) => {
  const rendered = renderKustomization(join(K8S_DIR, dir));
  const objects = rendered.map((r) => r.object);
  const find = (kind: string, name: string) => named(objects, kind, name);
  const podTemplate = (name: string) =>
    (find("Deployment", name).spec as { template: { metadata: JsonObject; spec: JsonObject } }).template;
  const containerOf = (name: string) =>
    (podTemplate(name).spec.containers as unknown as Container[])[0] as Container;
  /** What the container's environment is made of: its own entries and the ConfigMaps it loads. */
  const envOf = (name: string) => {
    const c = containerOf(name);
    const env = new Map<string, string | undefined>();
    for (const from of c.envFrom ?? []) {
      const data = find("ConfigMap", from.configMapRef?.name ?? "?").data as Record<string, string>;
      for (const [k, v] of Object.entries(data)) env.set(k, v);
    }
    for (const e of c.env ?? []) env.set(e.name, e.value);
    return env;
  };

  it("every object is valid against the Kubernetes schemas (and the Secret example too)", () => {
    expect(objects.length).toBeGreaterThan(0);
    const problems = [...rendered, { object: secretExample, source: "secret.example.yaml" }].flatMap(
      ({ object, source }) => {
        const p = schemaProblem(object);
        return p ? [`${source} ${object.kind} ${object.metadata.name}: ${p}`] : [];
      },
    );
    expect(problems).toEqual([]);
  });

  describe.each(Object.entries(COMPONENTS) as Array<[ComponentName, string]>)(
    "%s (%s)",
    (component, name) => {
      it("sets only environment variables the code reads, with values it accepts", () => {
        const env = envOf(name);
        const read = envNamesRead(component);
        expect(
          [...env.keys()].filter((n) => !read.has(n)),
          "variables no code reads (yet)",
        ).toEqual([]);
        const given = Object.fromEntries([...env].filter(([, v]) => v !== undefined)) as Record<
          string,
          string
        >;
        const load = component === "tailer" ? loadTailerConfig : loadIngestConfig;
        const { MONGODB_URI } = secretExample.stringData as Record<string, string>;
        expect(() => load({ ...given, MONGODB_URI })).not.toThrow();
      });

      it("takes its secrets from tailcast-secrets, under the keys its example lists", () => {
        const keys = Object.keys(secretExample.stringData as JsonObject);
        for (const e of containerOf(name).env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          expect(ref.name, e.name).toBe(secretExample.metadata.name);
          expect(ref.key, e.name).toBe(e.name);
          expect(keys, e.name).toContain(ref.key);
        }
      });

      it("listens, is probed and is scraped where the code serves", () => {
        const c = containerOf(name);
        const env = envOf(name);
        const ports = new Map(c.ports.map((p) => [p.name, p.containerPort]));
        expect(ports.get("http")).toBe(Number(env.get("PORT")));
        expect(Number(env.get("PORT"))).toBe(defaultPort(component));
        const served = [...pathsServed(component)];
        expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
        expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
        expect(served).toEqual(expect.arrayContaining(["/readyz", "/healthz"]));
        const annotations = podTemplate(name).metadata.annotations as Record<string, string>;
        expect(annotations["prometheus.io/scrape"]).toBe("true");
        expect(served, "the metrics path").toContain(annotations["prometheus.io/path"]);
        expect(annotations["prometheus.io/port"]).toBe(env.get("TAILCAST_METRICS_PORT"));
        expect(ports.get("metrics")).toBe(Number(env.get("TAILCAST_METRICS_PORT")));
        expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      });

      it("outlives its preStop hook and drain: the grace period is above both together", () => {
        const drainMs = Number(envOf(name).get("TAILCAST_DRAIN_TIMEOUT_MS"));
        expect(drainMs).toBeGreaterThan(0);
        const hookMs = preStopMs(containerOf(name).lifecycle?.preStop?.exec?.command);
        expect(hookMs).toBeGreaterThan(0);
        // Kubernetes counts the grace period from before the hook; SIGTERM comes after it.
        expect(Number(podTemplate(name).spec.terminationGracePeriodSeconds) * 1000).toBeGreaterThan(
          hookMs + drainMs,
        );
      });

      it("is selected by its Service, PodDisruptionBudget and autoscaler", () => {
        const labels = podTemplate(name).metadata.labels as Record<string, string>;
        const matches = (selector: Record<string, string>) =>
          Object.entries(selector).every(([k, v]) => labels[k] === v);
        const service = find("Service", name).spec as {
          selector: Record<string, string>;
          ports: JsonObject[];
        };
        expect(matches(service.selector)).toBe(true);
        const portNames = containerOf(name).ports.map((p) => p.name);
        for (const p of service.ports) expect(portNames).toContain(p.targetPort);
        const pdb = find("PodDisruptionBudget", name).spec as {
          selector: { matchLabels: Record<string, string> };
        };
        expect(matches(pdb.selector.matchLabels)).toBe(true);
        const hpa = find("HorizontalPodAutoscaler", name).spec as JsonObject;
        expect(hpa.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name });
        expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
      });
    },
  );

  it("the tailer's preStop starts the drain on a route the tailer serves, with the admin token it has", () => {
    const c = containerOf(COMPONENTS.tailer);
    const command = c.lifecycle?.preStop?.exec?.command ?? [];
    expect(command.slice(0, 2)).toEqual(["node", "-e"]);
    const script = command[2] ?? "";
    const route = /\/admin\/[a-z]+/.exec(script)?.[0];
    expect(script).toContain('method: "POST"');
    expect([...pathsServed("tailer")], "the drain route").toContain(route);
    expect(script).toContain("process.env.TAILCAST_ADMIN_TOKEN");
    expect(envOf(COMPONENTS.tailer).has("TAILCAST_ADMIN_TOKEN")).toBe(true);
    expect(script).toContain("process.env.PORT");
  });

  it("the Ingress routes only the public paths, keeps WebSockets past the heartbeats, and pins only Socket.IO", () => {
    const socketIoPath = `${new SocketIoServer().path()}/`;
    const ingresses = objects.filter((o) => o.kind === "Ingress");
    const routes = ingresses.flatMap((ing) =>
      ((ing.spec as { rules: Array<{ http: { paths: JsonObject[] } }> }).rules ?? []).flatMap((r) =>
        r.http.paths.map((p) => {
          const backend = (p.backend as { service: { name: string; port: { name: string } } }).service;
          return { ingress: ing, path: String(p.path), service: backend.name, port: backend.port.name };
        }),
      ),
    );
    const to = (path: string) => routes.filter((r) => r.path === path).map((r) => r.service);
    expect(to(WS_PATH)).toEqual([COMPONENTS.tailer]);
    expect(to(socketIoPath)).toEqual([COMPONENTS.tailer]);
    expect(to("/v1")).toEqual([COMPONENTS.functions]);
    expect([...pathsServed("functions")].some((p) => p.startsWith("/v1/"))).toBe(true);
    expect(routes.map((r) => r.path).sort()).toEqual(["/v1", WS_PATH, socketIoPath].sort());
    for (const r of routes) {
      const service = find("Service", r.service).spec as { ports: Array<{ name: string }> };
      expect(service.ports.map((p) => p.name)).toContain(r.port);
    }

    const { pingInterval, pingTimeout, wsHeartbeatMs } = tailerHeartbeats();
    for (const ing of ingresses) {
      const a = (ing.metadata.annotations ?? {}) as Record<string, string>;
      for (const key of ["proxy-read-timeout", "proxy-send-timeout"]) {
        const ms = Number(a[`nginx.ingress.kubernetes.io/${key}`]) * 1000;
        expect(ms, `${ing.metadata.name} ${key}`).toBeGreaterThan(pingInterval + pingTimeout);
        expect(ms, `${ing.metadata.name} ${key}`).toBeGreaterThan(2 * wsHeartbeatMs);
      }
      const pinned = a["nginx.ingress.kubernetes.io/affinity"] === "cookie";
      const paths = routes.filter((r) => r.ingress === ing).map((r) => r.path);
      expect(pinned, `${ing.metadata.name} (${paths}) has affinity`).toBe(
        paths.every((p) => p === socketIoPath),
      );
    }
  });
});

describe("production overlay", () => {
  const base = renderKustomization(join(K8S_DIR, "base")).map((r) => r.object);
  const prod = renderKustomization(join(K8S_DIR, "overlays/production")).map((r) => r.object);

  it("changes namespace, images, host and scale, and nothing else is lost", () => {
    expect(prod.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      base.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    );
    expect(new Set(prod.map((o) => o.metadata.namespace))).toEqual(new Set(["tailcast"]));
    const images = prod
      .filter((o) => o.kind === "Deployment")
      .flatMap((o) => (spec(o).template as unknown as { spec: { containers: Container[] } }).spec.containers)
      .map((c) => c.image);
    for (const image of images)
      expect(image).toMatch(/^registry\.example\.com\/tailcast-(tailer|functions):0\.1\.0$/);
    const hosts = prod
      .filter((o) => o.kind === "Ingress")
      .flatMap((o) => (spec(o) as unknown as { rules: Array<{ host: string }> }).rules.map((r) => r.host));
    expect(new Set(hosts)).toEqual(new Set(["rt.example.com"]));
    expect(spec(named(prod, "HorizontalPodAutoscaler", "tailcast-tailer")).minReplicas).toBe(3);
    // The patch left the rest of the tailer's Deployment as the base has it.
    const tailer = spec(named(prod, "Deployment", "tailcast-tailer"));
    expect(tailer.replicas).toBe(3);
    expect(tailer.strategy).toEqual(spec(named(base, "Deployment", "tailcast-tailer")).strategy);
  });

  it("uses only Secrets that the README's Kubernetes steps create, in its namespace", () => {
    const used = new Set<string>();
    for (const o of prod) {
      const template = ((o.spec as JsonObject | undefined)?.template ?? {}) as {
        spec?: { containers?: Container[] };
      };
      for (const c of template.spec?.containers ?? []) {
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) used.add(e.valueFrom.secretKeyRef.name);
      }
      if (o.kind === "Ingress") {
        for (const tls of (spec(o).tls ?? []) as Array<{ secretName: string }>) used.add(tls.secretName);
      }
    }
    expect([...used].sort()).toEqual(["tailcast-secrets", "tailcast-tls"]);
    const readme = readRepoFile("README.md");
    const section = readme.slice(readme.indexOf("\n### Kubernetes\n"), readme.indexOf("\n### AWS Lambda\n"));
    const created = new Map(
      [...section.matchAll(/kubectl -n (\S+) create secret (?:generic|tls) (\S+)/g)].map((m) => [m[2], m[1]]),
    );
    const namespace = prod[0]?.metadata.namespace;
    for (const name of used) expect(created.get(name), `README creates Secret ${name}`).toBe(namespace);
  });
});
