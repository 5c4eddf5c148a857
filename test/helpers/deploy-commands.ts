/**
 * The commands the deployment files run inside a container — the images' HEALTHCHECK and the tailer
 * Deployment's preStop, both `node -e <script>` — read from those files and run here as a container
 * runtime would, so the tests exercise the real scripts, not copies.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { readRepoFile } from "./deploy-code.ts";
import { parseDockerfile } from "./dockerfile.ts";
import { type JsonObject, K8S_DIR, renderKustomization } from "./kustomize.ts";

/** The `node -e` script of a command, or an error naming where it should have been. */
function nodeScript(command: string[] | undefined, where: string): string {
  const [node, flag, script] = command ?? [];
  if (node !== "node" || flag !== "-e" || typeof script !== "string") {
    throw new Error(`${where} is not a \`node -e <script>\` command: ${JSON.stringify(command)}`);
  }
  return script;
}

/** The runtime stage's HEALTHCHECK script of an image (infra/docker/*.Dockerfile). */
export function healthcheckScript(dockerfile: string): string {
  const runtime = parseDockerfile(readRepoFile(dockerfile)).at(-1);
  const check = runtime?.instructions.find((i) => i.keyword === "HEALTHCHECK");
  return nodeScript(check?.exec, `${dockerfile} HEALTHCHECK`);
}

/** The preStop script of a Deployment's first container, as infra/k8s/base renders it. */
export function preStopScript(deployment: string): string {
  const found = renderKustomization(join(K8S_DIR, "base")).find(
    (r) => r.object.kind === "Deployment" && r.object.metadata.name === deployment,
  );
  const spec = found?.object.spec as { template: { spec: { containers: JsonObject[] } } } | undefined;
  const container = spec?.template.spec.containers[0] as
    | { lifecycle?: { preStop?: { exec?: { command: string[] } } } }
    | undefined;
  return nodeScript(container?.lifecycle?.preStop?.exec?.command, `${deployment} preStop`);
}

/** Runs a `node -e` script with only `env` (and PATH) set; resolves with its exit code. */
export function runNodeScript(script: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["-e", script],
      { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 },
      (err) => resolve(err ? (typeof err.code === "number" ? err.code : -1) : 0),
    );
  });
}
