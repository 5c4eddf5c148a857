/**
 * A real HAProxy (Debian's `haproxy` package) in front of tailer processes, for the load balancer
 * tests: infra/lb/haproxy.cfg rendered for servers on 127.0.0.1 with fast health checks, run in the
 * foreground on free ports, and its runtime API (server states, maintenance) over a unix socket.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "../../infra/devdb/launcher.ts";
import { type ServerProcess, spawnServer } from "../../infra/devdb/server-process.ts";
import {
  DEBIAN_PRIVILEGES,
  HAPROXY_TEMPLATE,
  type HaproxyOptions,
  type HealthCheck,
  renderHaproxyConfig,
  type TailerServer,
} from "../../infra/lb/haproxy-config.ts";
import { pollUntil } from "./guarantees.ts";

/** The haproxy binary, or why there is none (CI installs it: .ci/run). */
export function findHaproxy(): { path: string } | { missing: string } {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  const path = dirs.map((d) => join(d, "haproxy")).find((p) => existsSync(p));
  if (!path) return { missing: "haproxy is not installed (apt-get install -y haproxy)" };
  try {
    execFileSync(path, ["-v"], { stdio: "pipe" });
    return { path };
  } catch (err) {
    return { missing: `${path} -v failed: ${(err as Error).message}` };
  }
}

/**
 * Whether a haproxy we start can drop root as Debian's config does: HAProxy refuses chroot, user and
 * group unless started as root, and the chroot directory must exist (Debian's package creates it).
 * The kernel clears the parent-death signal (setpriv --pdeathsig, infra/devdb/server-process.ts) when
 * the process changes user: such a haproxy is stopped by the exit hook and stop(), but would outlive a
 * test process killed with SIGKILL.
 */
export function mayDropPrivileges(): boolean {
  return process.getuid?.() === 0 && existsSync(DEBIAN_PRIVILEGES.chroot);
}

/** `UP`, `DOWN`, `MAINT`, or a transition such as `UP 1/2` (going down) / `DOWN 1/2` (coming up). */
export type ServerStatus = string;

export interface Haproxy {
  url: string;
  config: string;
  process: ServerProcess;
  /** One runtime API command; resolves with HAProxy's answer. */
  command(line: string): Promise<string>;
  /** Status of each server of `backend`, by name. */
  statuses(backend?: string): Promise<Map<string, ServerStatus>>;
  /** Resolves once `server` of backend `tailers` has exactly `status` (polled: HAProxy announces nothing). */
  waitFor(server: string, status: ServerStatus, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const FAST_CHECKS: HealthCheck = { intervalMs: 200, fall: 2, rise: 2 };

export async function startHaproxy(
  binary: string,
  servers: TailerServer[],
  check: HealthCheck = FAST_CHECKS,
  options: Pick<HaproxyOptions, "affinity"> = {},
): Promise<Haproxy> {
  const dir = await mkdtemp(join(tmpdir(), "tailcast-haproxy-"));
  const socket = join(dir, "admin.sock");
  const port = await freePort();
  const config = renderHaproxyConfig(await readFile(HAPROXY_TEMPLATE, "utf8"), {
    bind: `127.0.0.1:${port}`,
    statsBind: `127.0.0.1:${await freePort()}`,
    statsSocket: socket,
    servers,
    check,
    // As on a Debian host, when we may (root, and the package's chroot directory exists).
    ...(mayDropPrivileges() ? { dropPrivileges: DEBIAN_PRIVILEGES } : {}),
    ...options,
  });
  const file = join(dir, "haproxy.cfg");
  await writeFile(file, config);
  // -db: foreground, no daemon; the process is ours to stop.
  const proc = await spawnServer(binary, ["-db", "-f", file], { deathSignal: "KILL" });

  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(socket, () => s.end(`${line}\n`));
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("error", reject);
      s.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
  const statuses = async (backend = "tailers") => {
    const csv = (await command("show stat")).trim().split("\n");
    const header = (csv[0] ?? "").replace(/^# /, "").split(",");
    const [px, sv, st] = ["pxname", "svname", "status"].map((h) => header.indexOf(h)) as [
      number,
      number,
      number,
    ];
    const out = new Map<string, ServerStatus>();
    for (const row of csv.slice(1)) {
      const f = row.split(",");
      if (f[px] === backend && f[sv] !== "BACKEND" && f[sv] !== "FRONTEND")
        out.set(f[sv] as string, f[st] as string);
    }
    return out;
  };
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await pollUntil(
      "haproxy's runtime API",
      async () => {
        if (proc.hasExited()) throw new Error("haproxy exited");
        return (await statuses()).size > 0 ? true : undefined;
      },
      10_000,
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${proc.output().join("\n")}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    process: proc,
    command,
    statuses,
    waitFor: async (server, status, timeoutMs = 20_000) => {
      let last: ServerStatus | undefined;
      await pollUntil(
        `haproxy to see ${server} ${status}`,
        async () => {
          last = (await statuses()).get(server);
          return last === status ? true : undefined;
        },
        timeoutMs,
      ).catch((err: Error) => {
        throw new Error(`${err.message} (last seen: ${last})\n${proc.output().join("\n")}`);
      });
    },
    stop,
  };
}
