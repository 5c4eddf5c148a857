/**
 * The client's `affinity` option (README "Tail on demand and affinity"): the channel goes into every
 * connection URL as `?channel=`, which the load balancer hashes (infra/lb/haproxy.cfg); both transports
 * keep it.
 */
import { describe, expect, it } from "vitest";
import { createClient } from "../../client/index.ts";
import { busAffinity, withAffinity, wsUrl } from "../../client/urls.ts";
import { busIndexOf } from "../../shared/bus/partition.ts";

describe("withAffinity", () => {
  it("adds the channel as the `channel` query parameter, encoded, keeping the rest of the URL", () => {
    expect(withAffinity("http://h:1", "chat")).toBe("http://h:1/?channel=chat");
    expect(withAffinity("https://example.com/realtime/?x=1", "room:42 b")).toBe(
      "https://example.com/realtime/?x=1&channel=room%3A42+b",
    );
    expect(withAffinity("http://h:1/?channel=old", "new")).toBe("http://h:1/?channel=new");
  });

  it("leaves the URL alone without affinity", () => {
    expect(withAffinity("http://h:1", undefined)).toBe("http://h:1");
  });

  it("survives the /ws mapping beside the token", () => {
    expect(wsUrl(withAffinity("http://h:1", "chat"), "t")).toBe("ws://h:1/ws?channel=chat&token=t");
  });
});

/** A WebSocket constructor that records the URLs it was given and never opens. */
function recordingWebSocket(urls: string[]): typeof WebSocket {
  return class {
    readyState = 0;
    constructor(url: string) {
      urls.push(url);
    }
    addEventListener(): void {}
    removeEventListener(): void {}
    close(): void {}
    send(): void {}
  } as unknown as typeof WebSocket;
}

describe("busAffinity", () => {
  it("names the channel's bus, so every channel of one bus shares a key", () => {
    const channels = Array.from({ length: 50 }, (_, i) => `ch-${i}`);
    for (const channel of channels) expect(busAffinity(channel, 4)).toBe(`bus-${busIndexOf(channel, 4)}`);
    expect(new Set(channels.map((c) => busAffinity(c, 4)))).toEqual(
      new Set(["bus-0", "bus-1", "bus-2", "bus-3"]),
    );
    expect(busAffinity("anything", 1)).toBe("bus-0");
  });

  it("spreads a bus's channels over `spread` keys, each key within one bus", () => {
    const channels = Array.from({ length: 2000 }, (_, i) => `ch-${i}`);
    const keys = new Map<string, number>();
    for (const channel of channels) {
      const key = busAffinity(channel, 4, 8);
      expect(key).toMatch(new RegExp(`^bus-${busIndexOf(channel, 4)}-[0-7]$`));
      expect(busAffinity(channel, 4, 8)).toBe(key); // stable
      keys.set(key, (keys.get(key) ?? 0) + 1);
    }
    // 4 buses × 8 = 32 keys, all used, none far from its share of 62.5 (the second hash is not the bus's).
    expect(keys.size).toBe(32);
    for (const count of keys.values()) expect(count).toBeGreaterThan(30);
    expect(busAffinity("ch-1", 4, 1)).toBe(busAffinity("ch-1", 4));
  });

  it("refuses a spread that is not a whole number from 1 to 1024", () => {
    for (const spread of [0, -1, 1.5, 1025, Number.NaN])
      expect(() => busAffinity("c", 4, spread)).toThrow(RangeError);
  });
});

describe("createClient affinity", () => {
  it("connects to /ws with ?channel= on every node it tries", async () => {
    const urls: string[] = [];
    const client = createClient({
      urls: ["http://a:1", "http://b:2"],
      pickUrl: "ordered",
      affinity: "orders",
      WebSocket: recordingWebSocket(urls),
    });
    await new Promise((r) => setImmediate(r));
    client.close();
    expect(urls[0]).toBe("ws://a:1/ws?channel=orders");
  });

  it("refuses an empty affinity", () => {
    expect(() => createClient({ urls: ["http://a:1"], affinity: "" })).toThrow(TypeError);
  });
});
