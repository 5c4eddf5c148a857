/** Connections per client address (tailer/connection-limit.ts), shared by both transports. */
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../shared/errors.ts";
import { createConnectionLimit } from "../../tailer/connection-limit.ts";

describe("createConnectionLimit", () => {
  it("admits up to the limit per address, then refuses with rate_limited and a Retry-After", () => {
    const admit = createConnectionLimit(2);
    admit("10.0.0.1");
    admit("10.0.0.1");
    expect(() => admit("10.0.0.1")).toThrow(
      expect.objectContaining({ code: ErrorCode.rateLimited, retryAfter: 5 }),
    );
    // Another address has its own count.
    admit("10.0.0.2");
    admit("10.0.0.2");
  });

  it("a release frees one slot, and releasing twice frees only one", () => {
    const admit = createConnectionLimit(2);
    const first = admit("10.0.0.1");
    admit("10.0.0.1");
    first();
    first();
    admit("10.0.0.1");
    expect(() => admit("10.0.0.1")).toThrow(expect.objectContaining({ code: ErrorCode.rateLimited }));
  });

  it("a refused admission holds nothing: refusals never lock an address out", () => {
    const admit = createConnectionLimit(1);
    const held = admit("10.0.0.1");
    for (let i = 0; i < 10; i++) expect(() => admit("10.0.0.1")).toThrow();
    held();
    const again = admit("10.0.0.1");
    again();
    admit("10.0.0.1");
  });

  it("0 means no limit", () => {
    const admit = createConnectionLimit(0);
    for (let i = 0; i < 1000; i++) admit("10.0.0.1");
  });
});
