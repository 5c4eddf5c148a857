import { describe, expect, it } from "vitest";
import { MonitorWatch, stuckCheckLimitMs } from "../../shared/monitor-watch.ts";

describe("MonitorWatch", () => {
  it("finds a check left open past the limit, and only that one", () => {
    const w = new MonitorWatch();
    w.started("a:1", 0);
    w.started("b:1", 0);
    w.ended("b:1");
    w.started("b:1", 900);
    expect(w.stuck(1000, 1000)).toEqual([]);
    expect(w.stuck(1001, 1000)).toEqual(["a:1"]);
    expect(w.stuck(1901, 1000)).toEqual(["a:1", "b:1"]);
  });

  it("counts a streaming monitor's next check from its own start", () => {
    const w = new MonitorWatch();
    // The streaming protocol reports a success and starts the next check at once, every interval.
    for (let t = 0; t < 60_000; t += 10_000) {
      w.started("a:1", t);
      expect(w.stuck(t + 9_999, 10_000)).toEqual([]);
      w.ended("a:1");
    }
    expect(w.stuck(1e9, 1)).toEqual([]);
  });

  it("forgets a server that left the topology", () => {
    const w = new MonitorWatch();
    w.started("gone:1", 0);
    w.ended("gone:1");
    expect(w.stuck(1e9, 1)).toEqual([]);
  });
});

describe("stuckCheckLimitMs", () => {
  it("lies past the longest check the driver's own timeouts allow", () => {
    // An awaited check is timed out at heartbeat + connect; a reconnect inside it adds a connect.
    expect(stuckCheckLimitMs(10_000, 5000)).toBe(20_000);
    expect(stuckCheckLimitMs(500, 300)).toBeGreaterThan(500 + 300);
  });

  it("is off when the socket timeout is off", () => {
    expect(stuckCheckLimitMs(10_000, 0)).toBeUndefined();
  });
});
