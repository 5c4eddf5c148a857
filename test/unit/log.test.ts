/**
 * The logger (shared/log.ts) through its `write` hook: the fields every line carries, pino's error
 * serialisation, levels, the pretty format, and that secrets never reach the output in either format.
 */
import { describe, expect, it } from "vitest";
import { TailcastError } from "../../shared/errors.ts";
import { createLogger, type LogFormat, type LoggerOptions } from "../../shared/log.ts";
import { scrubText } from "../../shared/log-redact.ts";

function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger("functions", {
    level: "debug",
    format: "json",
    node: "functions-8080",
    colorize: false,
    ...options,
    write: (line) => lines.push(line),
  });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, records };
}

describe("JSON lines", () => {
  it("carry time, level label, component, node, pid and hostname, the message and its fields", () => {
    const { log, records } = capture();
    log.info("ingest listening", { port: 8080, skipped: undefined });
    const [r] = records();
    expect(r).toMatchObject({
      level: "info",
      component: "functions",
      node: "functions-8080",
      msg: "ingest listening",
      port: 8080,
    });
    expect(typeof r?.pid).toBe("number");
    expect(typeof r?.hostname).toBe("string");
    expect(new Date(r?.time as string).toISOString()).toBe(r?.time);
    expect(r).not.toHaveProperty("skipped");
  });

  it("child() names a part of the component; with() binds fields to every line, also of its children", () => {
    const { log, records } = capture();
    const request = log.with({ requestId: "r-1" });
    request.warn("slow");
    request.child("writer").info("group written", { docs: 3 });
    log.info("unbound");
    expect(records()).toEqual([
      expect.objectContaining({ component: "functions", requestId: "r-1", msg: "slow" }),
      expect.objectContaining({ component: "functions:writer", requestId: "r-1", docs: 3 }),
      expect.not.objectContaining({ requestId: expect.anything() }),
    ]);
  });

  it("serialises errors with pino's err serializer: type, message, stack and own properties", () => {
    const { log, records } = capture();
    log.error("cannot use the bus", {
      err: new TailcastError("bus_not_capped", "the bus is not capped", { retryAfter: 1 }),
    });
    const err = records()[0]?.err as Record<string, unknown>;
    expect(err).toMatchObject({ type: "TailcastError", message: "the bus is not capped" });
    expect(err.code).toBe("bus_not_capped");
    expect(String(err.stack)).toMatch(/^TailcastError: the bus is not capped\n\s+at /);
  });

  it("an Error under another key is serialised the same way, not as {}", () => {
    const { log, records } = capture();
    log.warn("retrying", { cause: new RangeError("boom") });
    expect(records()[0]?.cause).toMatchObject({ type: "RangeError", message: "boom" });
  });

  it("drops lines below the level", () => {
    const { log, records } = capture({ level: "warn" });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(records().map((r) => [r.level, r.msg])).toEqual([
      ["warn", "w"],
      ["error", "e"],
    ]);
  });
});

describe("pretty", () => {
  for (const format of ["pretty", "text"] as const) {
    it(`${format}: one line per event with the node, component, message and fields`, () => {
      const { log, lines } = capture({ format });
      log.with({ connId: "c1" }).child("ws").info("client connected", { transport: "ws" });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: functions-8080 \[functions:ws\] client connected \{.*"connId":"c1".*"transport":"ws".*\}$/,
      );
    });
  }
});

describe("secrets never reach the output", () => {
  const SECRETS = [
    "tc_live_9f8e7d6c5b4a",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    "hunter2-p@ss",
    "s3cr3t-cookie",
    "Zm9vOmJhcg",
  ];
  const [apiKey, jwt, password, cookie, basic] = SECRETS;
  const uri = `mongodb://tailcast:${encodeURIComponent(password as string)}@db1:27017,db2:27017/?replicaSet=rs0`;

  function logEverything(log: ReturnType<typeof createLogger>) {
    log.info("request", {
      headers: {
        authorization: `Bearer ${apiKey}`,
        Authorization: `Bearer ${jwt}`,
        cookie,
        "x-api-key": apiKey,
      },
    });
    log.info("auth", { authorization: `Basic ${basic}`, token: jwt, apiKey, key: apiKey, password });
    log.info("nested", { req: { headers: { authorization: `Bearer ${jwt}` } }, user: { password } });
    log.info("deeper", { a: { b: { token: jwt, c: [{ d: { "X-Api-Key": apiKey, Password: password } }] } } });
    log.warn("bus not reachable yet", {
      err: Object.assign(new Error(`getaddrinfo ENOTFOUND for ${uri}`), { uri, token: jwt }),
    });
    log.error(`connecting to ${uri} with Authorization: Bearer ${jwt}`);
    log.info("config", { mongodbUri: uri, url: `/ws?token=${jwt}&x=1`, list: [uri, `Bearer ${apiKey}`] });
    log.with({ upstream: uri, token: jwt }).info("bound");
  }

  for (const format of ["json", "pretty"] satisfies LogFormat[]) {
    it(`${format}: keys, headers, URIs with credentials, bearer tokens and errors are masked`, () => {
      const { log, lines } = capture({ format });
      logEverything(log);
      const out = lines.join("\n");
      expect(lines.length).toBeGreaterThanOrEqual(8);
      for (const secret of [...SECRETS, encodeURIComponent(password as string)]) {
        expect(out).not.toContain(secret);
      }
      expect(out).toContain("[Redacted]");
      // What is not secret stays readable.
      expect(out).toContain("db1:27017,db2:27017/?replicaSet=rs0");
      expect(out).toContain("getaddrinfo ENOTFOUND");
    });
  }

  it("leaves the caller's objects as they were", () => {
    const { log } = capture();
    const fields = { headers: { authorization: `Bearer ${jwt}` }, url: `${uri}` };
    log.info("request", fields);
    expect(fields).toEqual({ headers: { authorization: `Bearer ${jwt}` }, url: `${uri}` });
  });

  it("scrubText keeps text without secrets as it is and masks each kind", () => {
    expect(scrubText("http://127.0.0.1:8080/v1/x@y")).toBe("http://127.0.0.1:8080/v1/x@y");
    expect(scrubText("mongodb+srv://u:p@ss@cluster0.example.net/db")).toBe(
      "mongodb+srv://[Redacted]@cluster0.example.net/db",
    );
    expect(scrubText("Authorization: Bearer abc.def")).toBe("Authorization: Bearer [Redacted]");
    expect(scrubText("/ws?since=3&token=abc")).toBe("/ws?since=3&token=[Redacted]");
  });
});
