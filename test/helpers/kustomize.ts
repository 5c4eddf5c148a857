/**
 * Just enough of kustomize to render infra/k8s for the tests (no kubectl here): `resources` (files and
 * other kustomizations), `labels`, `namespace`, `images` and strategic-merge `patches` given by path.
 * Anything else in a kustomization is refused, so a file using more than this is noticed here rather
 * than rendered wrong.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { CORE_SCHEMA, loadAll } from "js-yaml";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface K8sObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & JsonObject;
}

export interface Rendered {
  object: K8sObject;
  /** The file it came from, relative to the repository. */
  source: string;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  labels?: Array<{ pairs: Record<string, string> }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ path: string }>;
}

const KNOWN = new Set(["apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"]);

const isObject = (x: unknown): x is JsonObject => typeof x === "object" && x !== null && !Array.isArray(x);

export function readYaml(file: string): Json[] {
  return loadAll(readFileSync(file, "utf8"), { schema: CORE_SCHEMA }).filter((d) => d !== null) as Json[];
}

/** Strategic merge as kustomize does it for these files: maps merge, lists of named items merge by name. */
export function strategicMerge(base: Json, patch: Json): Json {
  if (isObject(base) && isObject(patch)) {
    const out: JsonObject = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? strategicMerge(base[k] as Json, v) : v;
    return out;
  }
  if (
    Array.isArray(base) &&
    Array.isArray(patch) &&
    [...base, ...patch].every((x) => isObject(x) && "name" in x)
  ) {
    const out = [...base] as JsonObject[];
    for (const p of patch as JsonObject[]) {
      const at = out.findIndex((b) => b.name === p.name);
      if (at >= 0) out[at] = strategicMerge(out[at] as Json, p) as JsonObject;
      else out.push(p);
    }
    return out;
  }
  return patch;
}

function podSpecOf(o: K8sObject): JsonObject | undefined {
  const template = (o.spec as JsonObject | undefined)?.template as JsonObject | undefined;
  return template?.spec as JsonObject | undefined;
}

function setImages(o: K8sObject, images: NonNullable<Kustomization["images"]>): void {
  const containers = (podSpecOf(o)?.containers ?? []) as JsonObject[];
  for (const c of containers) {
    const [name = "", tag] = String(c.image).split(":");
    const rule = images.find((i) => i.name === name);
    if (rule) c.image = `${rule.newName ?? name}:${rule.newTag ?? tag ?? "latest"}`;
  }
}

export function renderKustomization(dir: string): Rendered[] {
  const file = join(dir, "kustomization.yaml");
  const k = (readYaml(file)[0] ?? {}) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) throw new Error(`${file}: this renderer does not handle ${unknown.join(", ")}`);

  let out: Rendered[] = [];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    if (!existsSync(path)) throw new Error(`${file}: resource ${resource} does not exist`);
    if (statSync(path).isDirectory()) out.push(...renderKustomization(path));
    else {
      const source = relative(REPO_ROOT, path);
      out.push(...readYaml(path).map((object) => ({ object: object as K8sObject, source })));
    }
  }
  // A deep copy, so that patches and transformers never touch what another render returned.
  out = out.map((r) => ({ ...r, object: structuredClone(r.object) }));

  for (const { path } of k.patches ?? []) {
    for (const patch of readYaml(join(dir, path)) as K8sObject[]) {
      const at = out.findIndex(
        (r) =>
          r.object.kind === patch.kind &&
          r.object.apiVersion === patch.apiVersion &&
          r.object.metadata.name === patch.metadata.name,
      );
      if (at < 0) throw new Error(`${dir}/${path}: no ${patch.kind} ${patch.metadata.name} to patch`);
      const target = out[at] as Rendered;
      out[at] = { ...target, object: strategicMerge(target.object, patch) as K8sObject };
    }
  }
  for (const { object } of out) {
    for (const { pairs } of k.labels ?? []) object.metadata.labels = { ...object.metadata.labels, ...pairs };
    if (k.namespace) object.metadata.namespace = k.namespace;
    if (k.images) setImages(object, k.images);
  }
  return out;
}

export const K8S_DIR = join(REPO_ROOT, "infra", "k8s");
