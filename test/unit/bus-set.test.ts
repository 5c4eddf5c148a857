import { describe, expect, it } from "vitest";
import { openBusSet } from "../../shared/bus/bus-set.ts";
import { loadBusSet } from "../../shared/bus/config.ts";
import { busIndexOf } from "../../shared/bus/partition.ts";
import { createLogger } from "../../shared/log.ts";

const log = createLogger("test", { level: "error" });

describe("openBusSet", () => {
  it("shares one client per deployment and routes each channel to its bus", async () => {
    const set = openBusSet(
      loadBusSet({
        TAILCAST_BUSES: "3",
        TAILCAST_BUS_URIS: "mongodb://a.invalid/,mongodb://b.invalid/,mongodb://a.invalid/",
      }),
      "test",
      log,
    );
    const [b0, b1, b2] = set.buses;
    expect(b0?.mongo).toBe(b2?.mongo);
    expect(b0?.mongo).not.toBe(b1?.mongo);
    expect(set.buses.map((b) => b.config.collection)).toEqual(["bus", "bus_1", "bus_2"]);
    for (const channel of ["a", "room:1", "orders/eu", "é"]) {
      expect(set.forChannel(channel).index).toBe(busIndexOf(channel, 3));
    }
    await set.close(); // nothing connected: closing is a no-op, and must not throw
  });

  it("is the single bus by default", async () => {
    const set = openBusSet(loadBusSet({}), "test", log);
    expect(set.buses).toHaveLength(1);
    expect(set.forChannel("anything").config.collection).toBe("bus");
    await set.close();
  });

  it("refuses an empty set", () => {
    expect(() => openBusSet([], "test", log)).toThrow(RangeError);
  });
});
