/** Types of processes.cjs (plain CommonJS, loaded by pm2 and by plain node). */
export interface HostProcess {
  /** pm2's app name: `tailcast-ingest`, `tailcast-tailer-<n>`. */
  name: string;
  /** The bundle it runs, under the build's output directory. */
  bundle: "functions/node.mjs" | "tailer/main.mjs";
  port: number;
  /** Its tailcast settings: what was given, plus its own ports and node id. */
  env: Record<string, string>;
}

export declare const HOST_VARIABLES: readonly string[];

export declare class HostProcessesError extends Error {
  readonly code: "invalid_host_processes";
}

export declare function hostProcesses(
  env: Record<string, string | undefined>,
  defaults: { tailerPorts: string },
): HostProcess[];

export declare function stopTimeoutMs(env: Record<string, string | undefined>): number;
