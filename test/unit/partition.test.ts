import { describe, expect, it } from "vitest";
import { loadBusConfig, loadBusSet } from "../../shared/bus/config.ts";
import { busCollectionName, busIndexOf, channelKey, jumpHash } from "../../shared/bus/partition.ts";

describe("jumpHash", () => {
  it("matches the reference implementation's outputs", () => {
    // Computed with the paper's algorithm transcribed in Go (uint64 arithmetic, float64 division).
    expect(jumpHash(0n, 1)).toBe(0);
    expect(jumpHash(0n, 10)).toBe(0);
    expect(jumpHash(1n, 10)).toBe(6);
    expect(jumpHash(2n, 10)).toBe(6);
    expect(jumpHash(0xffffffffffffffffn, 100)).toBe(92);
    expect(jumpHash(12345678901234567n, 1000)).toBe(368);
    expect(jumpHash(42n, 7)).toBe(2);
  });

  it("moves only about 1/(n+1) of the keys when a bucket is added, all to the new bucket", () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => channelKey(`channel-${i}`));
    for (const n of [1, 2, 3, 4, 7]) {
      let moved = 0;
      for (const k of keys) {
        const before = jumpHash(k, n);
        const after = jumpHash(k, n + 1);
        if (before !== after) {
          moved++;
          expect(after).toBe(n);
        }
      }
      expect(moved / keys.length).toBeGreaterThan(0.8 / (n + 1));
      expect(moved / keys.length).toBeLessThan(1.2 / (n + 1));
    }
  });

  it("spreads keys evenly", () => {
    const counts = new Array(4).fill(0);
    for (let i = 0; i < 40_000; i++) counts[busIndexOf(`room:${i}`, 4)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it("refuses a bucket count that is not a positive integer", () => {
    expect(() => jumpHash(1n, 0)).toThrow(RangeError);
    expect(() => jumpHash(1n, 1.5)).toThrow(RangeError);
  });
});

describe("channelKey", () => {
  it("is FNV-1a 64 over UTF-8 (stable across processes)", () => {
    expect(channelKey("")).toBe(0xcbf29ce484222325n);
    expect(channelKey("a")).toBe(0xaf63dc4c8601ec8cn);
    expect(channelKey("foobar")).toBe(0x85944171f73967e8n);
    expect(channelKey("é")).not.toBe(channelKey("e"));
  });
});

describe("busIndexOf and busCollectionName", () => {
  it("puts everything in bus 0 with one bus, which keeps the configured name", () => {
    expect(busIndexOf("anything", 1)).toBe(0);
    expect(busCollectionName("bus", 0)).toBe("bus");
    expect(busCollectionName("bus", 3)).toBe("bus_3");
  });
});

describe("loadBusSet", () => {
  it("is the single bus by default", () => {
    expect(loadBusSet({})).toEqual([loadBusConfig({})]);
  });

  it("names N buses after the configured collection, each on its own URI when given", () => {
    const set = loadBusSet({
      TAILCAST_BUSES: "3",
      TAILCAST_BUS_COLLECTION: "events",
      TAILCAST_BUS_URIS: "mongodb://a/,mongodb://b/,mongodb+srv://c.example/",
    });
    expect(set.map((b) => [b.collection, b.mongodbUri])).toEqual([
      ["events", "mongodb://a/"],
      ["events_1", "mongodb://b/"],
      ["events_2", "mongodb+srv://c.example/"],
    ]);
  });

  it("refuses a URI list of the wrong length, a bad URI, and a count out of range", () => {
    expect(() => loadBusSet({ TAILCAST_BUSES: "2", TAILCAST_BUS_URIS: "mongodb://a/" })).toThrow(
      /TAILCAST_BUS_URIS: must list one URI per bus/,
    );
    expect(() => loadBusSet({ TAILCAST_BUSES: "1", TAILCAST_BUS_URIS: "http://a/" })).toThrow(
      /TAILCAST_BUS_URIS/,
    );
    expect(() => loadBusSet({ TAILCAST_BUSES: "0" })).toThrow(/TAILCAST_BUSES/);
    expect(() => loadBusSet({ TAILCAST_BUSES: "65" })).toThrow(/TAILCAST_BUSES/);
  });
});
