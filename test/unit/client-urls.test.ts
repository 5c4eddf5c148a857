import { describe, expect, it } from "vitest";
import { urlPicker, wsUrl } from "../../client/urls.ts";

/** Replays the given values as Math.random would return them, cycling. */
function fixed(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

const urls = ["http://a", "http://b", "http://c"];
const take = (next: () => string, n: number) => Array.from({ length: n }, () => next());

describe("urlPicker", () => {
  it("round-robin starts at a random node, then visits every node in turn", () => {
    expect(take(urlPicker(urls, "round-robin", fixed(0.5)), 5)).toEqual([
      "http://b",
      "http://c",
      "http://a",
      "http://b",
      "http://c",
    ]);
    expect(take(urlPicker(urls, "round-robin", fixed(0)), 2)).toEqual(["http://a", "http://b"]);
    expect(take(urlPicker(urls, "round-robin", fixed(0.999999)), 2)).toEqual(["http://c", "http://a"]);
  });

  it("random never tries the same node twice in a row when there is another", () => {
    for (const r of [0, 0.3, 0.5, 0.7, 0.999999]) {
      const picks = take(urlPicker(urls, "random", fixed(r, 0, 0.99, r)), 50);
      for (let i = 1; i < picks.length; i++) expect(picks[i]).not.toBe(picks[i - 1]);
      for (const p of picks) expect(urls).toContain(p);
    }
  });

  it("random reaches every node", () => {
    const picks = new Set(take(urlPicker(urls, "random"), 200));
    expect(picks).toEqual(new Set(urls));
  });

  it("works with a single node", () => {
    expect(take(urlPicker(["http://only"], "random"), 3)).toEqual([
      "http://only",
      "http://only",
      "http://only",
    ]);
    expect(take(urlPicker(["http://only"], "round-robin"), 2)).toEqual(["http://only", "http://only"]);
  });

  it("refuses an empty list", () => {
    expect(() => urlPicker([], "round-robin")).toThrow(TypeError);
  });
});

describe("wsUrl", () => {
  it("maps a node's http(s) URL to its /ws endpoint", () => {
    expect(wsUrl("http://localhost:8081")).toBe("ws://localhost:8081/ws");
    expect(wsUrl("https://rt.example.com/")).toBe("wss://rt.example.com/ws");
    expect(wsUrl("https://example.com/realtime/")).toBe("wss://example.com/realtime/ws");
  });

  it("keeps a ws(s) URL as given", () => {
    expect(wsUrl("ws://127.0.0.1:9000/custom")).toBe("ws://127.0.0.1:9000/custom");
  });

  it("carries the token as a query parameter, encoded", () => {
    expect(wsUrl("http://h:1", "a b&c")).toBe("ws://h:1/ws?token=a+b%26c");
  });

  it("refuses other schemes", () => {
    expect(() => wsUrl("ftp://h")).toThrow(TypeError);
  });
});
