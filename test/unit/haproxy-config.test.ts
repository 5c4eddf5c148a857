/**
 * infra/lb/haproxy.cfg and its renderer: the committed file is what the renderer makes for the compose
 * fleet, the timeouts outlast the heartbeats the tailer actually uses (read from its code and config),
 * and the health check asks the path the tailer serves.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/devdb/ferretdb-build.ts";
import {
  DEBIAN_PRIVILEGES,
  HAPROXY_TEMPLATE,
  HaproxyConfigError,
  renderHaproxyConfig,
} from "../../infra/lb/haproxy-config.ts";
import { pathsServed, tailerHeartbeats } from "../helpers/deploy-code.ts";
import { findHaproxy, mayDropPrivileges } from "../helpers/haproxy.ts";

const template = readFileSync(HAPROXY_TEMPLATE, "utf8");

/** The config without its comments: what HAProxy reads. */
const directives = (config: string) =>
  config
    .split("\n")
    .filter((l) => !l.trim().startsWith("#"))
    .join("\n");

/** `timeout <name> <value>` of the defaults section, in ms. */
function timeoutMs(config: string, name: string): number {
  const m = new RegExp(`^\\s*timeout ${name} (\\d+)(ms|s|m|h)?\\s*$`, "m").exec(config);
  if (!m) throw new Error(`no timeout ${name}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"] as number;
  return Number(m[1]) * unit;
}

describe("HAProxy config", () => {
  it("the committed file is the renderer's output for the compose fleet", () => {
    const rendered = renderHaproxyConfig(template, {
      bind: ":8080",
      servers: [
        { name: "tailer-1", address: "tailer-1:8081" },
        { name: "tailer-2", address: "tailer-2:8081" },
      ],
      dockerDns: true,
    });
    expect(rendered).toBe(template);
  });

  it("renders any fleet: both backends list every server, the polling one with its affinity cookie", () => {
    const config = renderHaproxyConfig(template, {
      bind: "127.0.0.1:9000",
      servers: [
        { name: "rt1", address: "10.0.0.1:8081" },
        { name: "rt2", address: "10.0.0.2:8081" },
        { name: "rt3", address: "10.0.0.3:8081" },
      ],
      check: { intervalMs: 250, fall: 3, rise: 1 },
      statsSocket: "/run/lb.sock",
    });
    expect(config).toContain("    bind 127.0.0.1:9000\n");
    expect(config).toContain("    default-server check inter 250ms fall 3 rise 1\n");
    expect(config).toContain("stats socket /run/lb.sock mode 600 level admin");
    expect(config).not.toContain("server tailer-1");
    // No Docker DNS on a host: neither the servers' reference nor the section (127.0.0.11) is left.
    expect(directives(config)).not.toContain("resolvers docker");
    expect(config).not.toContain("127.0.0.11");
    expect(config).not.toMatch(/^\s*(chroot|user|group) /m);
    for (const n of [1, 2, 3]) {
      expect(config).toContain(`    server rt${n} 10.0.0.${n}:8081\n`);
      expect(config).toContain(`    server rt${n} 10.0.0.${n}:8081 track tailers/rt${n} cookie rt${n}\n`);
    }
  });

  it("keeps Docker's resolver only where the servers use it", () => {
    const servers = [{ name: "tailer-1", address: "tailer-1:8081" }];
    const compose = renderHaproxyConfig(template, { bind: ":8080", servers, dockerDns: true });
    expect(compose).toMatch(
      /^resolvers docker\n {4}#.*\n(?: {4}#.*\n)* {4}nameserver dns 127\.0\.0\.11:53$/m,
    );
    expect(compose.match(/ resolvers docker init-addr /g)).toHaveLength(2);
    const host = renderHaproxyConfig(template, { bind: ":8080", servers });
    expect(directives(host)).not.toContain("resolvers");
    // Only that section went: the next one follows where it was.
    expect(host).toMatch(/stats socket [^\n]*\n\ndefaults\n/);
  });

  it("drops root as Debian's packaged config does, in the global section", () => {
    const config = renderHaproxyConfig(template, {
      bind: ":80",
      servers: [{ name: "rt1", address: "10.0.0.1:8081" }],
      dropPrivileges: DEBIAN_PRIVILEGES,
    });
    const global = config.slice(
      config.indexOf("\nglobal\n"),
      config.indexOf("\n\n", config.indexOf("\nglobal\n") + 1),
    );
    for (const line of ["chroot /var/lib/haproxy", "user haproxy", "group haproxy"]) {
      expect(global).toContain(`\n    ${line}`);
      expect(config.split(line)).toHaveLength(2);
    }
  });

  it("the command line renders a host's config by default: no Docker resolver, root dropped; --keep-user keeps the user", () => {
    const cli = (...args: string[]) =>
      execFileSync(
        process.execPath,
        [
          "--import",
          "tsx",
          join("infra", "lb", "haproxy-config.ts"),
          "--server",
          "rt1=10.0.0.1:8081",
          ...args,
        ],
        { cwd: REPO_ROOT, stdio: "pipe" },
      ).toString();
    const host = cli();
    expect(host).toMatch(/^ {4}user haproxy$/m);
    expect(directives(host)).not.toContain("resolvers docker");
    expect(cli("--keep-user")).not.toMatch(/^\s*(chroot|user|group) /m);
    const compose = cli("--docker-dns");
    expect(compose).toContain("resolvers docker init-addr");
    expect(compose).not.toMatch(/^\s*(chroot|user|group) /m);
  });

  it("refuses what HAProxy would misread", () => {
    const bad = [
      { servers: [] },
      { servers: [{ name: "a b", address: "x:1" }] },
      { servers: [{ name: "a", address: "x" }] },
      {
        servers: [
          { name: "a", address: "x:1" },
          { name: "a", address: "y:1" },
        ],
      },
      { servers: [{ name: "a", address: "x:1" }], check: { intervalMs: 1, fall: 1, rise: 1 } },
      {
        servers: [{ name: "a", address: "x:1" }],
        dropPrivileges: { chroot: "var/lib/haproxy", user: "haproxy", group: "haproxy" },
      },
      {
        servers: [{ name: "a", address: "x:1" }],
        dropPrivileges: { chroot: "/var/lib/haproxy", user: "ha proxy", group: "haproxy" },
      },
    ];
    for (const o of bad) {
      expect(() => renderHaproxyConfig(template, { bind: ":80", ...o }), JSON.stringify(o)).toThrow(
        HaproxyConfigError,
      );
    }
  });

  it("timeouts outlast the tailer's heartbeats: a quiet connection is never cut by the balancer", () => {
    const { pingInterval, pingTimeout, wsHeartbeatMs } = tailerHeartbeats();
    const tunnel = timeoutMs(template, "tunnel");
    expect(tunnel).toBeGreaterThan(pingInterval + pingTimeout);
    expect(tunnel).toBeGreaterThan(2 * wsHeartbeatMs);
    // A long-poll GET is held by the tailer for up to pingInterval before it answers.
    expect(timeoutMs(template, "server")).toBeGreaterThan(pingInterval);
    expect(timeoutMs(template, "client")).toBeGreaterThan(pingInterval);
  });

  it("health checks ask /readyz, which the tailer serves", () => {
    expect(template).toMatch(/http-check send meth GET uri \/readyz /);
    expect([...pathsServed("tailer")]).toContain("/readyz");
  });
});

describe("HAProxy config with channel affinity", () => {
  const servers = [
    { name: "rt1", address: "127.0.0.1:9001" },
    { name: "rt2", address: "127.0.0.1:9002" },
  ];
  const section = (config: string, name: string) => {
    const start = config.indexOf(`\n${name}\n`);
    const end = config.indexOf("\n\n", start + 1);
    return config.slice(start, end);
  };

  it("hashes the `channel` query parameter consistently in the tailers backend only; the default stays leastconn", () => {
    const plain = renderHaproxyConfig(template, { bind: ":80", servers });
    expect(section(plain, "backend tailers")).toMatch(/^ {4}balance leastconn$/m);
    const config = renderHaproxyConfig(template, { bind: ":80", servers, affinity: true });
    const tailers = section(config, "backend tailers");
    expect(tailers).toMatch(/^ {4}balance url_param channel\n {4}hash-type consistent$/m);
    expect(tailers).not.toMatch(/^ {4}balance leastconn$/m);
    expect(section(config, "backend tailers_polling")).toMatch(/^ {4}balance leastconn$/m);
  });

  it("is a configuration HAProxy accepts (with Debian's haproxy on PATH)", (ctx) => {
    const found = findHaproxy();
    if ("missing" in found) {
      console.warn(`skipped: ${found.missing}`);
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "tailcast-haproxy-check-"));
    try {
      const file = join(dir, "haproxy.cfg");
      const socket = join(dir, "admin.sock");
      for (const privileges of [
        {},
        ...(mayDropPrivileges() ? [{ dropPrivileges: DEBIAN_PRIVILEGES }] : []),
      ]) {
        writeFileSync(
          file,
          renderHaproxyConfig(template, {
            bind: "127.0.0.1:18080",
            servers,
            affinity: true,
            statsSocket: socket,
            ...privileges,
          }),
        );
        const out = execFileSync(found.path, ["-c", "-f", file], { stdio: "pipe" }).toString();
        expect(out, JSON.stringify(privileges)).toMatch(/valid/i);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
