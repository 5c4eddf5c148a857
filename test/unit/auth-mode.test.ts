import { describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../shared/auth/api-keys.ts";
import {
  authDisabled,
  requirePublisherAuth,
  requireSubscriberAuth,
  resolveAuthMode,
} from "../../shared/auth/mode.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";

type Env = Record<string, string | undefined>;

const key = generateApiKey();
const keysEnv: Env = {
  TAILCAST_API_KEYS: JSON.stringify([{ id: "app", sha256: hashApiKey(key), channels: ["*"] }]),
};
const jwtEnv: Env = { TAILCAST_JWT_SECRET: "0123456789abcdef0123456789abcdef" };
const noFiles = {
  readText: (): string => {
    throw new Error("no file reads expected");
  },
};

function refusal(fn: () => unknown): TailcastError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TailcastError);
    expect((err as TailcastError).code).toBe(ErrorCode.invalidConfig);
    return err as TailcastError;
  }
  throw new Error("expected a refusal to start");
}

describe("secure by default", () => {
  it("publisher auth refuses to start without keys, saying what to set", () => {
    const err = refusal(() => requirePublisherAuth({}, noFiles));
    expect(err.message).toContain("TAILCAST_API_KEYS");
    expect(err.message).toContain("TAILCAST_API_KEYS_FILE");
    expect(err.message).toContain("npm run keys -- new");
    expect(err.message).toContain("TAILCAST_AUTH=off");
    expect(err.message).toContain("local development only");
  });

  it("subscriber auth refuses to start without JWT config, saying what to set", () => {
    const err = refusal(() => requireSubscriberAuth({}, noFiles));
    for (const name of [
      "TAILCAST_JWT_SECRET",
      "TAILCAST_JWT_PUBLIC_KEY",
      "TAILCAST_JWT_PUBLIC_KEY_FILE",
      "TAILCAST_JWT_JWKS_URL",
      "TAILCAST_AUTH=off",
    ]) {
      expect(err.message).toContain(name);
    }
  });

  it("each side needs only its own credentials", () => {
    const publishers = requirePublisherAuth(keysEnv, noFiles);
    expect(publishers).not.toBe("off");
    if (publishers !== "off") expect(publishers.verify(`Bearer ${key}`).id).toBe("app");
    expect(requireSubscriberAuth(jwtEnv, noFiles)).not.toBe("off");
  });

  it("resolveAuthMode needs both sides", () => {
    const both = resolveAuthMode({ ...keysEnv, ...jwtEnv }, noFiles);
    expect(both.publishers).not.toBe("off");
    expect(both.subscribers).not.toBe("off");
    expect(refusal(() => resolveAuthMode(keysEnv, noFiles)).message).toContain("Subscriber");
    expect(refusal(() => resolveAuthMode(jwtEnv, noFiles)).message).toContain("Publisher");
  });

  it("invalid credentials config is still refused, not treated as off", () => {
    refusal(() => requirePublisherAuth({ TAILCAST_API_KEYS: "[]" }, noFiles));
    refusal(() => requireSubscriberAuth({ TAILCAST_JWT_SECRET: "short" }, noFiles));
  });
});

describe("TAILCAST_AUTH", () => {
  it.each(["off", "OFF", " off "])("%j turns both sides off explicitly", (value) => {
    expect(resolveAuthMode({ TAILCAST_AUTH: value }, noFiles)).toEqual({
      publishers: "off",
      subscribers: "off",
    });
    expect(authDisabled({ TAILCAST_AUTH: value })).toBe(true);
  });

  it("off wins over configured credentials", () => {
    expect(resolveAuthMode({ TAILCAST_AUTH: "off", ...keysEnv, ...jwtEnv }, noFiles)).toEqual({
      publishers: "off",
      subscribers: "off",
    });
  });

  it.each([undefined, "", "on", "ON"])("%j means on", (value) => {
    expect(authDisabled({ TAILCAST_AUTH: value })).toBe(false);
  });

  it.each(["false", "0", "disabled", "of"])("refuses the ambiguous %j", (value) => {
    const err = refusal(() => requirePublisherAuth({ TAILCAST_AUTH: value, ...keysEnv }, noFiles));
    expect(err.message).toContain("TAILCAST_AUTH");
  });
});
