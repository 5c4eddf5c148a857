/**
 * Renders infra/lb/haproxy.cfg for a given tailer fleet: the listen address, the runtime API socket,
 * the health-check pace and the server lists; the rest of the file (routing, affinity, timeouts) is
 * kept as written. The committed file is the compose fleet's (Docker's DNS, the official image's own
 * unprivileged user); for a host, the `resolvers docker` section goes (nothing resolves through it
 * there) and the process drops root as Debian's packaged config does (chroot, user and group haproxy).
 * Pure: `renderHaproxyConfig` maps text to text. Run it to print a config:
 *
 *   npx tsx infra/lb/haproxy-config.ts --bind :80 --server rt1=10.0.0.11:8081 --server rt2=10.0.0.12:8081
 *     [--check-interval-ms 2000] [--stats-socket /run/haproxy/admin.sock] [--stats-bind :8404] [--affinity]
 *     [--keep-user]    no chroot, user or group: for haproxy started by an unprivileged user
 *     [--docker-dns]   inside a compose network, for the official image (which runs unprivileged: --keep-user)
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export const HAPROXY_TEMPLATE = fileURLToPath(new URL("./haproxy.cfg", import.meta.url));

export interface TailerServer {
  /** HAProxy server name, also the affinity cookie's value: letters, digits, `-`, `_`, `.`. */
  name: string;
  /** host:port */
  address: string;
}

export interface HealthCheck {
  intervalMs: number;
  /** Failed checks before a server stops getting new connections. */
  fall: number;
  /** Passed checks before it gets them again. */
  rise: number;
}

export interface HaproxyOptions {
  /** The frontend's `bind` argument, e.g. `:80` or `127.0.0.1:8080`. */
  bind: string;
  servers: TailerServer[];
  check?: HealthCheck;
  /** Path of the runtime API socket. */
  statsSocket?: string;
  /**
   * Keep resolving server names through Docker's DNS (only inside a compose network); without it the
   * `resolvers docker` section is left out.
   */
  dockerDns?: boolean;
  /**
   * Drop root after binding: chroot, then run as this user and group (HAProxy refuses them when not
   * started as root). DEBIAN_PRIVILEGES is what Debian's packaged config uses.
   */
  dropPrivileges?: DropPrivileges;
  /** The `bind` argument of the stats / Prometheus frontend. */
  statsBind?: string;
  /**
   * Channel affinity: the `tailers` backend hashes the `channel` query parameter (consistently) instead
   * of balancing by least connections (README "Tail on demand and affinity").
   */
  affinity?: boolean;
}

export interface DropPrivileges {
  chroot: string;
  user: string;
  group: string;
}

/** Debian's haproxy package: its /etc/haproxy/haproxy.cfg and the user, group and directory it creates. */
export const DEBIAN_PRIVILEGES: DropPrivileges = Object.freeze({
  chroot: "/var/lib/haproxy",
  user: "haproxy",
  group: "haproxy",
});

export class HaproxyConfigError extends Error {
  readonly code = "invalid_lb_config";
  constructor(message: string) {
    super(message);
    this.name = "HaproxyConfigError";
  }
}

const SERVER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const ADDRESS = /^[A-Za-z0-9_.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/;
const DOCKER_DNS = " resolvers docker init-addr last,libc,none";
/** The `tailers` backend's balancing with channel affinity (the client's `affinity` option sets the parameter). */
export const AFFINITY_BALANCE = ["balance url_param channel", "hash-type consistent"] as const;

function checkOptions(o: HaproxyOptions): void {
  if (o.servers.length === 0) throw new HaproxyConfigError("at least one tailer server is needed");
  const names = new Set<string>();
  for (const s of o.servers) {
    if (!SERVER_NAME.test(s.name)) throw new HaproxyConfigError(`bad server name ${JSON.stringify(s.name)}`);
    if (!ADDRESS.test(s.address)) throw new HaproxyConfigError(`bad address ${JSON.stringify(s.address)}`);
    if (names.has(s.name)) throw new HaproxyConfigError(`server name ${s.name} used twice`);
    names.add(s.name);
  }
  const c = o.check;
  if (c && !(c.intervalMs >= 10 && Number.isInteger(c.fall) && c.fall >= 1 && c.rise >= 1)) {
    throw new HaproxyConfigError("check needs intervalMs ≥ 10, fall ≥ 1 and rise ≥ 1");
  }
  const p = o.dropPrivileges;
  if (
    p &&
    !(/^\/\S*$/.test(p.chroot) && /^[A-Za-z0-9_.-]+$/.test(p.user) && /^[A-Za-z0-9_.-]+$/.test(p.group))
  ) {
    throw new HaproxyConfigError(
      "dropPrivileges needs an absolute chroot path, a user name and a group name",
    );
  }
}

/** Replaces the lines between `# servers <backend> begin` and `# servers <backend> end`. */
function replaceBlock(lines: string[], backend: string, body: string[]): string[] {
  const begin = lines.findIndex((l) => l.trim() === `# servers ${backend} begin`);
  const end = lines.findIndex((l) => l.trim() === `# servers ${backend} end`);
  if (begin < 0 || end < begin) throw new HaproxyConfigError(`template has no server block for ${backend}`);
  return [...lines.slice(0, begin + 1), ...body, ...lines.slice(end)];
}

/** Index of the line that opens `section`. */
function sectionStart(lines: string[], section: string): number {
  const start = lines.findIndex((l) => l.trim() === section);
  if (start < 0) throw new HaproxyConfigError(`template has no section "${section}"`);
  return start;
}

/** Index past the last indented line of the section opening at `start`. */
function sectionEnd(lines: string[], start: number): number {
  let at = start + 1;
  while (at < lines.length && /^\s/.test(lines[at] ?? "")) at++;
  return at;
}

/** Without `section`: its lines and the blank line after it. */
function dropSection(lines: string[], section: string): string[] {
  const start = sectionStart(lines, section);
  let end = sectionEnd(lines, start);
  if (lines[end] === "") end++;
  return [...lines.slice(0, start), ...lines.slice(end)];
}

/** `body` added at the end of `section`. */
function appendTo(lines: string[], section: string, body: string[]): string[] {
  const end = sectionEnd(lines, sectionStart(lines, section));
  return [...lines.slice(0, end), ...body.map((l) => `    ${l}`), ...lines.slice(end)];
}

/** Replaces the one line of `section` starting with `keyword`. */
function replaceIn(lines: string[], section: string, keyword: string, line: string): string[] {
  const start = sectionStart(lines, section);
  let at = start + 1;
  for (; at < lines.length && /^\s/.test(lines[at] ?? ""); at++) {
    if ((lines[at] as string).trim().startsWith(`${keyword} `)) {
      const copy = [...lines];
      copy[at] = `    ${line}`;
      return copy;
    }
  }
  throw new HaproxyConfigError(`section "${section}" has no ${keyword} line`);
}

export function renderHaproxyConfig(template: string, o: HaproxyOptions): string {
  checkOptions(o);
  const dns = o.dockerDns ? DOCKER_DNS : "";
  let lines = template.split("\n");
  lines = replaceIn(lines, "frontend tailcast", "bind", `bind ${o.bind}`);
  if (o.statsBind) lines = replaceIn(lines, "frontend stats", "bind", `bind ${o.statsBind}`);
  if (o.statsSocket) {
    lines = replaceIn(lines, "global", "stats", `stats socket ${o.statsSocket} mode 600 level admin`);
  }
  if (!o.dockerDns) lines = dropSection(lines, "resolvers docker");
  if (o.dropPrivileges) {
    const { chroot, user, group } = o.dropPrivileges;
    lines = appendTo(lines, "global", [
      "# Root only to bind: then confined to this directory, as this user (Debian's packaged defaults).",
      `chroot ${chroot}`,
      `user ${user}`,
      `group ${group}`,
    ]);
  }
  if (o.affinity) {
    lines = replaceIn(lines, "backend tailers", "balance", AFFINITY_BALANCE.join("\n    "));
  }
  const c = o.check ?? { intervalMs: 2000, fall: 2, rise: 2 };
  lines = replaceIn(
    lines,
    "backend tailers",
    "default-server",
    `default-server check inter ${c.intervalMs}ms fall ${c.fall} rise ${c.rise}${dns}`,
  );
  lines = replaceIn(lines, "backend tailers_polling", "default-server", `default-server${dns}`);
  lines = replaceBlock(
    lines,
    "tailers",
    o.servers.map((s) => `    server ${s.name} ${s.address}`),
  );
  lines = replaceBlock(
    lines,
    "tailers_polling",
    o.servers.map((s) => `    server ${s.name} ${s.address} track tailers/${s.name} cookie ${s.name}`),
  );
  return lines.join("\n");
}

function main(): void {
  const { values } = parseArgs({
    options: {
      bind: { type: "string", default: ":8080" },
      server: { type: "string", multiple: true, default: [] },
      "check-interval-ms": { type: "string", default: "2000" },
      "docker-dns": { type: "boolean", default: false },
      "keep-user": { type: "boolean", default: false },
      affinity: { type: "boolean", default: false },
      "stats-socket": { type: "string" },
      "stats-bind": { type: "string" },
    },
  });
  const servers = values.server.map((arg) => {
    const [name = "", address = ""] = arg.split("=", 2);
    return { name, address };
  });
  const config = renderHaproxyConfig(readFileSync(HAPROXY_TEMPLATE, "utf8"), {
    bind: values.bind,
    servers,
    check: { intervalMs: Number(values["check-interval-ms"]), fall: 2, rise: 2 },
    dockerDns: values["docker-dns"],
    // Debian's service starts haproxy as root; the official Docker image (--docker-dns) does not.
    ...(values["keep-user"] || values["docker-dns"] ? {} : { dropPrivileges: DEBIAN_PRIVILEGES }),
    affinity: values.affinity,
    ...(values["stats-socket"] ? { statsSocket: values["stats-socket"] } : {}),
    ...(values["stats-bind"] ? { statsBind: values["stats-bind"] } : {}),
  });
  process.stdout.write(config);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
