import { timingSafeEqual } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ApiKeyConfig,
  authorizeChannel,
  createKeyVerifier,
  generateApiKey,
  hashApiKey,
  loadApiKeys,
  parseApiKeys,
} from "../../shared/auth/api-keys.ts";
import { ErrorCode, type TailcastError } from "../../shared/errors.ts";
import { thrown } from "../helpers/thrown.ts";

// Counts comparisons (the real function still runs) to show the verifier never stops early.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const billingKey = generateApiKey();
const chatKey = generateApiKey();
const opsKey = generateApiKey();
const keys: ApiKeyConfig[] = [
  {
    id: "billing",
    sha256: hashApiKey(billingKey),
    channels: ["orders:*"],
    rate: { perSecond: 5, burst: 10 },
  },
  { id: "chat", sha256: hashApiKey(chatKey), channels: ["chat:*", "lobby"] },
  { id: "ops", sha256: hashApiKey(opsKey), channels: ["*"] },
];
const verifier = createKeyVerifier(keys);

describe("generateApiKey / hashApiKey", () => {
  it("makes long random keys with a recognisable prefix", () => {
    expect(billingKey).toMatch(/^tc_[A-Za-z0-9_-]{43}$/);
    expect(new Set([billingKey, chatKey, opsKey, generateApiKey()]).size).toBe(4);
  });

  it("hashes to lowercase hex SHA-256", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("the publisher auth matrix", () => {
  it.each([
    [undefined, "Missing API key: send `Authorization: Bearer <key>`."],
    ["", "Missing API key: send `Authorization: Bearer <key>`."],
    ["   ", "Missing API key: send `Authorization: Bearer <key>`."],
  ])("no key (%j) → 401", (header, message) => {
    const err = thrown(() => verifier.verify(header));
    expect(err.code).toBe(ErrorCode.unauthorized);
    expect(err.status).toBe(401);
    expect(err.message).toBe(message);
  });

  it.each([
    `Basic ${billingKey}`,
    "Bearer",
    "Bearer ",
    `Bearer ${billingKey} extra`,
    `Bearer\t${billingKey}`,
    billingKey,
    `Token ${billingKey}`,
  ])("malformed header %# → 401 without echoing it", (header) => {
    const err = thrown(() => verifier.verify(header));
    expect(err.code).toBe(ErrorCode.unauthorized);
    expect(err.message).toBe("Malformed Authorization header: expected `Bearer <key>`.");
    expect(err.message).not.toContain(billingKey);
  });

  it("wrong key → 401 Invalid API key", () => {
    for (const wrong of [generateApiKey(), `${billingKey}x`, billingKey.slice(0, -1), "x".repeat(10_000)]) {
      const err = thrown(() => verifier.verify(`Bearer ${wrong}`));
      expect(err.code).toBe(ErrorCode.unauthorized);
      expect(err.message).toBe("Invalid API key.");
    }
  });

  it("a configured hash presented as the key is refused", () => {
    expect(thrown(() => verifier.verify(`Bearer ${hashApiKey(billingKey)}`)).code).toBe(
      ErrorCode.unauthorized,
    );
  });

  it("right key → its publisher (scheme is case-insensitive)", () => {
    const p = verifier.verify(`Bearer ${billingKey}`);
    expect(p.id).toBe("billing");
    expect(p.rate).toEqual({ perSecond: 5, burst: 10 });
    expect(verifier.verify(`bearer ${chatKey}`).id).toBe("chat");
    expect(verifier.verify(`BEARER  ${opsKey} `).id).toBe("ops");
    expect(verifier.verify(`Bearer ${chatKey}`).rate).toBeUndefined();
  });

  it("key outside its channels → 403 naming the channel, never the key", () => {
    const p = verifier.verify(`Bearer ${chatKey}`);
    const err = thrown(() => authorizeChannel(p, "orders:1"));
    expect(err.code).toBe(ErrorCode.forbidden);
    expect(err.status).toBe(403);
    expect(err.message).toContain('"orders:1"');
    expect(err.message).not.toContain(chatKey);
    expect(err.message).not.toContain(hashApiKey(chatKey));
  });

  it("key inside its channels → allowed", () => {
    const p = verifier.verify(`Bearer ${chatKey}`);
    expect(() => authorizeChannel(p, "chat:42")).not.toThrow();
    expect(() => authorizeChannel(p, "lobby")).not.toThrow();
    const ops = verifier.verify(`Bearer ${opsKey}`);
    expect(() => authorizeChannel(ops, "orders:1")).not.toThrow();
  });

  describe("constant-time comparison", () => {
    const compare = vi.mocked(timingSafeEqual);
    // Braces matter: a function returned from beforeEach would be run as a teardown.
    beforeEach(() => {
      compare.mockClear();
    });

    it("compares against every configured key even when the first matches", () => {
      verifier.verify(`Bearer ${billingKey}`);
      expect(compare).toHaveBeenCalledTimes(keys.length);
    });

    it("compares against every configured key when none matches", () => {
      thrown(() => verifier.verify(`Bearer ${generateApiKey()}`));
      expect(compare).toHaveBeenCalledTimes(keys.length);
    });
  });

  it("lists the configured ids (never hashes) for a start-up log", () => {
    expect(verifier.ids).toEqual(["billing", "chat", "ops"]);
  });
});

describe("parseApiKeys", () => {
  const sha = hashApiKey("k");
  const entry = (extra: Record<string, unknown> = {}) => ({
    id: "billing",
    sha256: sha,
    channels: ["a:*"],
    ...extra,
  });
  const json = (...entries: unknown[]) => JSON.stringify(entries);

  function refused(text: string, ...fragments: string[]): TailcastError {
    const err = thrown(() => parseApiKeys(text));
    expect(err.code).toBe(ErrorCode.invalidConfig);
    for (const f of fragments) expect(err.message).toContain(f);
    return err;
  }

  it("parses entries, lowercasing hashes and defaulting burst to one second of rate", () => {
    const parsed = parseApiKeys(
      json(
        entry({ sha256: sha.toUpperCase(), ratePerSecond: 2.5 }),
        entry({ id: "b2", sha256: hashApiKey("k2"), ratePerSecond: 50, burst: 100 }),
        entry({ id: "b3", sha256: hashApiKey("k3") }),
      ),
    );
    expect(parsed).toEqual([
      { id: "billing", sha256: sha, channels: ["a:*"], rate: { perSecond: 2.5, burst: 3 } },
      { id: "b2", sha256: hashApiKey("k2"), channels: ["a:*"], rate: { perSecond: 50, burst: 100 } },
      { id: "b3", sha256: hashApiKey("k3"), channels: ["a:*"] },
    ]);
  });

  it("refuses text that is not JSON, without quoting it", () => {
    const err = refused(`[{"id":"x","sha256":"${billingKey}"`, "TAILCAST_API_KEYS", "not valid JSON");
    expect(err.message).not.toContain(billingKey);
  });

  it.each([
    ["{}", "TAILCAST_API_KEYS"],
    ["[]", "at least one key"],
    [json(entry({ id: "" })), "TAILCAST_API_KEYS[0].id"],
    [json(entry({ id: "has space" })), "[0].id"],
    [json(entry({ sha256: "abc" })), "[0].sha256", "never the key"],
    [json(entry({ channels: [] })), "[0].channels", "at least one"],
    [json(entry({ channels: ["ok", "a*b"] })), "[0].channels[1]", "only once"],
    [json(entry({ ratePerSecond: -1 })), "[0].ratePerSecond"],
    [json(entry({ ratePerSecond: "5" })), "[0].ratePerSecond"],
    [json(entry({ burst: 5 })), "[0].burst", "needs ratePerSecond"],
    [json(entry({ ratePerSecond: 1, burst: 0.5 })), "[0].burst"],
    [json(entry({ rate: 5 })), "rate"],
    [json(entry(), entry({ sha256: hashApiKey("other") })), "[1].id", "duplicate id"],
    [json(entry(), entry({ id: "two" })), "[1].sha256", "duplicate key"],
  ])("refuses entry %#", (text, ...fragments) => {
    refused(text, ...fragments);
  });

  it("a cleartext key pasted instead of its hash is never echoed", () => {
    const err = refused(json(entry({ sha256: billingKey })), "[0].sha256");
    expect(err.message).not.toContain(billingKey);
    const extra = refused(json(entry({ key: billingKey })));
    expect(extra.message).not.toContain(billingKey);
  });

  it("names the source it was given", () => {
    expect(thrown(() => parseApiKeys("[]", "TAILCAST_API_KEYS_FILE")).message).toContain(
      "TAILCAST_API_KEYS_FILE",
    );
  });
});

describe("loadApiKeys", () => {
  const text = JSON.stringify([{ id: "a", sha256: hashApiKey("k"), channels: ["*"] }]);
  const noFiles = (): string => {
    throw new Error("no file reads expected");
  };

  it("is undefined when nothing is configured (mode.ts decides)", () => {
    expect(loadApiKeys({}, noFiles)).toBeUndefined();
    expect(loadApiKeys({ TAILCAST_API_KEYS: " ", TAILCAST_API_KEYS_FILE: "" }, noFiles)).toBeUndefined();
  });

  it("reads TAILCAST_API_KEYS", () => {
    expect(loadApiKeys({ TAILCAST_API_KEYS: text }, noFiles)?.[0]?.id).toBe("a");
  });

  it("reads TAILCAST_API_KEYS_FILE through the injected reader", () => {
    const paths: string[] = [];
    const keys = loadApiKeys({ TAILCAST_API_KEYS_FILE: "/etc/tailcast/keys.json" }, (p) => {
      paths.push(p);
      return text;
    });
    expect(paths).toEqual(["/etc/tailcast/keys.json"]);
    expect(keys?.[0]?.id).toBe("a");
  });

  it("refuses both at once, and an unreadable file", () => {
    const both = thrown(() =>
      loadApiKeys({ TAILCAST_API_KEYS: text, TAILCAST_API_KEYS_FILE: "/x" }, noFiles),
    );
    expect(both.code).toBe(ErrorCode.invalidConfig);
    expect(both.message).toContain("not both");
    const missing = thrown(() =>
      loadApiKeys({ TAILCAST_API_KEYS_FILE: "/nope.json" }, () => {
        throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
      }),
    );
    expect(missing.code).toBe(ErrorCode.invalidConfig);
    expect(missing.message).toContain('"/nope.json"');
    expect(missing.message).toContain("ENOENT");
  });

  it("reports file content problems under the file variable", () => {
    const err = thrown(() => loadApiKeys({ TAILCAST_API_KEYS_FILE: "/k.json" }, () => "[]"));
    expect(err.message).toContain("TAILCAST_API_KEYS_FILE");
  });
});
