import {
  type BulkWriteResult,
  MongoBulkWriteError,
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
  type TopologyDescription,
} from "mongodb";
import { describe, expect, it } from "vitest";
import {
  CursorDeathCode,
  codeOf,
  DUPLICATE_KEY,
  isCursorDeath,
  isDatabaseError,
  isDuplicateKey,
  isResumableTailError,
  isTransient,
  publicError,
} from "../../shared/bus/errors.ts";
import { ErrorCode, isTailcastError, TailcastError, toErrorBody } from "../../shared/errors.ts";
import { realEpipe } from "../helpers/socket-errors.ts";

const server = (code: number, errmsg = "x", errorLabels?: string[]) =>
  new MongoServerError(errorLabels ? { code, errmsg, errorLabels } : { code, errmsg });

describe("TailcastError", () => {
  const expectedStatus: Record<ErrorCode, number> = {
    invalid_json: 400,
    token_expired: 401,
    headers_too_large: 431,
    invalid_idempotency_key: 400,
    idempotency_key_reused: 422,
    idempotency_in_progress: 409,
    slow_consumer: 503,
    invalid_body: 400,
    invalid_channel: 400,
    invalid_event: 400,
    reserved_event: 400,
    missing_data: 400,
    invalid_data: 400,
    invalid_query: 400,
    invalid_request: 400,
    unauthorized: 401,
    forbidden: 403,
    not_found: 404,
    method_not_allowed: 405,
    message_too_large: 413,
    body_too_large: 413,
    batch_too_large: 413,
    unsupported_media_type: 415,
    rate_limited: 429,
    bus_unavailable: 503,
    node_draining: 503,
    bus_not_capped: 500,
    invalid_config: 500,
    internal_error: 500,
  };

  it("covers every code in the table above", () => {
    expect(Object.values(ErrorCode).sort()).toEqual(Object.keys(expectedStatus).sort());
  });

  it.each(Object.entries(expectedStatus))("%s → HTTP %d", (code, status) => {
    expect(new TailcastError(code as ErrorCode, "m").status).toBe(status);
  });

  it("uses each contract status (400, 401, 403, 404, 413, 415, 429, 503) for some code", () => {
    const used = new Set(Object.values(ErrorCode).map((c) => new TailcastError(c, "m").status));
    for (const s of [400, 401, 403, 404, 413, 415, 429, 503]) expect(used.has(s), String(s)).toBe(true);
  });

  it("carries code, message, name, retryAfter and cause", () => {
    const cause = new Error("socket closed");
    const err = new TailcastError(ErrorCode.busUnavailable, "Retry shortly.", { cause, retryAfter: 2 });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("TailcastError");
    expect(err.code).toBe("bus_unavailable");
    expect(err.message).toBe("Retry shortly.");
    expect(err.retryAfter).toBe(2);
    expect(err.cause).toBe(cause);
    expect(new TailcastError(ErrorCode.invalidBody, "m").retryAfter).toBeUndefined();
    expect("cause" in new TailcastError(ErrorCode.invalidBody, "m")).toBe(false);
  });

  it("renders exactly { error: { code, message } } — no cause, no stack", () => {
    const err = new TailcastError(ErrorCode.invalidJson, "Request body is not valid JSON.", {
      cause: new Error("Unexpected token } in JSON at position 7"),
    });
    expect(err.toBody()).toStrictEqual({
      error: { code: "invalid_json", message: "Request body is not valid JSON." },
    });
    expect(JSON.stringify(err.toBody())).not.toContain("position 7");
  });

  it("isTailcastError tells a real TailcastError from a look-alike", () => {
    expect(isTailcastError(new TailcastError(ErrorCode.forbidden, "no"))).toBe(true);
    expect(isTailcastError({ name: "TailcastError", code: "forbidden", status: 403 })).toBe(false);
    expect(isTailcastError(new Error("forbidden"))).toBe(false);
  });
});

describe("ErrorCode", () => {
  it("is frozen", () => {
    expect(Object.isFrozen(ErrorCode)).toBe(true);
    expect(Reflect.set(ErrorCode, "invalidJson", "changed")).toBe(false);
    expect(Reflect.set(ErrorCode, "brandNew", "x")).toBe(false);
    expect(ErrorCode.invalidJson).toBe("invalid_json");
    expect("brandNew" in ErrorCode).toBe(false);
  });

  it("uses unique stable_snake_case values", () => {
    const values = Object.values(ErrorCode);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});

describe("toErrorBody", () => {
  it("passes a TailcastError through with its status and Retry-After", () => {
    expect(
      toErrorBody(new TailcastError(ErrorCode.rateLimited, "Slow down.", { retryAfter: 30 })),
    ).toStrictEqual({
      status: 429,
      body: { error: { code: "rate_limited", message: "Slow down." } },
      retryAfter: 30,
    });
    expect(toErrorBody(new TailcastError(ErrorCode.notFound, "No.")).retryAfter).toBeUndefined();
  });

  it.each([
    ["Error with a path and a secret", new Error("ENOENT /srv/app/secrets.json password=hunter2")],
    ["TypeError", new TypeError("Cannot read properties of undefined (reading 'x')")],
    ["driver error", new MongoNetworkError("connection 4 to 10.0.0.3:27017 closed")],
    ["string", "boom"],
    ["null", null],
    ["undefined", undefined],
    ["look-alike object", { code: "invalid_json", status: 400, message: "forged" }],
  ])("hides an unknown error (%s) as a bare 500 internal_error", (_label, err) => {
    const out = toErrorBody(err);
    expect(out).toStrictEqual({
      status: 500,
      body: { error: { code: "internal_error", message: "Internal error." } },
      retryAfter: undefined,
    });
    const text = JSON.stringify(out);
    expect(text).not.toMatch(/hunter2|secrets|10\.0\.0\.3|reading|boom|forged|\bat\s/);
  });
});

describe("database error classification (by code and label, never by message)", () => {
  it("exposes the cursor-death codes of docs/mongodb.md and docs/ferretdb.md, frozen", () => {
    expect(CursorDeathCode).toEqual({
      CappedPositionLost: 136,
      QueryPlanKilled: 175,
      CursorNotFound: 43,
      CursorKilled: 237,
      FerretDBInternalError: 1,
    });
    expect(Object.isFrozen(CursorDeathCode)).toBe(true);
    expect(DUPLICATE_KEY).toBe(11000);
  });

  describe("codeOf", () => {
    it("reads the numeric code of driver errors only", () => {
      expect(codeOf(server(136))).toBe(136);
      expect(codeOf(new MongoNetworkError("x"))).toBeUndefined();
      expect(codeOf(Object.assign(new Error("x"), { code: 136 }))).toBeUndefined();
      expect(codeOf({ code: 136 })).toBeUndefined();
      expect(codeOf(undefined)).toBeUndefined();
    });
  });

  describe("isCursorDeath", () => {
    it.each([136, 175, 43, 237, 1])("is true for server code %d", (code) => {
      expect(isCursorDeath(server(code))).toBe(true);
    });

    it.each([2, 6, 11000, 13435, 50])("is false for server code %d", (code) => {
      expect(isCursorDeath(server(code))).toBe(false);
    });

    it("is false for network errors, plain errors and look-alikes carrying the code", () => {
      expect(isCursorDeath(new MongoNetworkError("x"))).toBe(false);
      expect(isCursorDeath(Object.assign(new Error("x"), { code: 136 }))).toBe(false);
      expect(isCursorDeath({ code: 136 })).toBe(false);
      expect(isCursorDeath(null)).toBe(false);
    });

    it("ignores the message: same text, different code, different answer", () => {
      expect(isCursorDeath(server(136, "CappedPositionLost: position lost"))).toBe(true);
      expect(isCursorDeath(server(2, "CappedPositionLost: position lost"))).toBe(false);
      expect(isCursorDeath(server(1, "iterator is read to the end or closed"))).toBe(true);
      expect(isCursorDeath(server(8000, "iterator is read to the end or closed"))).toBe(false);
      expect(isCursorDeath(server(43, "something unrelated"))).toBe(true);
    });
  });

  describe("isDatabaseError and publicError", () => {
    it("take a socket error the driver let out unwrapped for a database error, to retry", async () => {
      const epipe = await realEpipe();
      expect((epipe as NodeJS.ErrnoException).code).toBe("EPIPE");
      expect(isDatabaseError(epipe)).toBe(true);
      expect(isTransient(epipe)).toBe(true);
      const told = publicError(epipe);
      expect(toErrorBody(told)).toMatchObject({
        status: 503,
        retryAfter: 1,
        body: { error: { code: "bus_unavailable" } },
      });
    });

    it("take a driver error for one too, and leave anything else as it is", () => {
      expect(isDatabaseError(new MongoNetworkError("x"))).toBe(true);
      expect(isDatabaseError(server(11000))).toBe(true);
      for (const other of [
        new TypeError("x"),
        Object.assign(new Error("x"), { code: "ENOENT" }),
        new TailcastError(ErrorCode.invalidJson, "x"),
        { code: "EPIPE" },
        undefined,
      ]) {
        expect(isDatabaseError(other)).toBe(false);
        expect(publicError(other)).toBe(other);
      }
    });
  });

  describe("isTransient", () => {
    it("is true for network and server-selection errors", () => {
      expect(isTransient(new MongoNetworkError("x"))).toBe(true);
      // The driver exports TopologyDescription as a type only; the error just keeps it as `reason`.
      const topology = { type: "Unknown", servers: new Map() } as unknown as TopologyDescription;
      expect(isTransient(new MongoServerSelectionError("x", topology))).toBe(true);
      expect(isTransient(new MongoTopologyClosedError("x"))).toBe(true);
    });

    it.each([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 64])(
      "is true for not-primary / shutdown / interrupted code %d",
      (code) => {
        expect(isTransient(server(code))).toBe(true);
      },
    );

    it.each(["RetryableWriteError", "TransientTransactionError", "ResumableChangeStreamError"])(
      "is true for any code carrying the %s label",
      (label) => {
        expect(isTransient(server(2, "x", [label]))).toBe(true);
        expect(isTransient(server(2, "x"))).toBe(false);
      },
    );

    it("is true for a write concern error", () => {
      const err = new MongoWriteConcernError({ writeConcernError: { code: 100, errmsg: "x" }, ok: 1 });
      expect(isTransient(err)).toBe(true);
    });

    it("is false for a duplicate key, a cursor death, plain errors and non-errors", () => {
      expect(isTransient(server(11000))).toBe(false);
      expect(isTransient(server(136))).toBe(false);
      expect(isTransient(new Error("ECONNRESET"))).toBe(false);
      expect(isTransient(Object.assign(new Error("x"), { code: 10107 }))).toBe(false);
      expect(isTransient(new TailcastError(ErrorCode.busUnavailable, "x"))).toBe(false);
      expect(isTransient("network")).toBe(false);
    });

    it("ignores the message: same text, different code or label, different answer", () => {
      const text = "not primary and secondaryOk=false; connection reset; retry";
      expect(isTransient(server(10107, text))).toBe(true);
      expect(isTransient(server(2, text))).toBe(false);
      expect(isTransient(server(2, text, ["RetryableWriteError"]))).toBe(true);
      expect(isTransient(new MongoError(text))).toBe(false);
    });
  });

  describe("isResumableTailError", () => {
    it("is true for cursor deaths and transient errors", () => {
      expect(isResumableTailError(server(136))).toBe(true);
      expect(isResumableTailError(server(175))).toBe(true);
      expect(isResumableTailError(server(1))).toBe(true);
      expect(isResumableTailError(server(91))).toBe(true);
      expect(isResumableTailError(new MongoNetworkError("x"))).toBe(true);
      expect(isResumableTailError(server(2, "x", ["RetryableWriteError"]))).toBe(true);
    });

    it("is false for everything else", () => {
      expect(isResumableTailError(server(11000))).toBe(false);
      expect(isResumableTailError(server(2))).toBe(false);
      expect(isResumableTailError(server(13))).toBe(false);
      expect(isResumableTailError(new Error("CappedPositionLost"))).toBe(false);
      expect(isResumableTailError(new TailcastError(ErrorCode.invalidConfig, "x"))).toBe(false);
    });

    it("ignores the message", () => {
      expect(isResumableTailError(server(237, "boring"))).toBe(true);
      expect(isResumableTailError(server(13, "CursorKilled"))).toBe(false);
    });
  });

  describe("isDuplicateKey", () => {
    it("is true for a server error with code 11000", () => {
      expect(isDuplicateKey(server(11000, "E11000 duplicate key error collection: tailcast.bus"))).toBe(true);
    });

    it("is true for the bulk write error insertMany throws on a duplicate", () => {
      const err = new MongoBulkWriteError(
        { message: "E11000 duplicate key error", code: 11000, writeErrors: [] },
        {} as BulkWriteResult,
      );
      expect(isDuplicateKey(err)).toBe(true);
    });

    it("ignores the message and other classes", () => {
      expect(isDuplicateKey(server(11001, "E11000 duplicate key error"))).toBe(false);
      expect(isDuplicateKey(server(2, "E11000 duplicate key error"))).toBe(false);
      expect(isDuplicateKey(new MongoNetworkError("E11000 duplicate key error"))).toBe(false);
      expect(isDuplicateKey(Object.assign(new Error("E11000"), { code: 11000 }))).toBe(false);
      expect(isDuplicateKey({ code: 11000 })).toBe(false);
    });
  });
});
