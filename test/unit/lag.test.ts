import { describe, expect, it } from "vitest";
import { computeLag } from "../../tailer/lag.ts";

const now = new Date("2026-01-01T00:00:10.000Z");
const newest = { offset: 100, epoch: "e", ts: new Date("2026-01-01T00:00:09.000Z") };

describe("computeLag", () => {
  it("is zero when the node has delivered the newest offset", () => {
    expect(computeLag(newest, { offset: 100, epoch: "e" }, newest.ts, now)).toMatchObject({
      offsets: 0,
      ms: 0,
    });
  });

  it("counts offsets behind and the time between the last delivered and the newest message", () => {
    const lag = computeLag(newest, { offset: 90, epoch: "e" }, new Date("2026-01-01T00:00:06.500Z"), now);
    expect(lag).toEqual({ offsets: 10, ms: 2500, checkedAt: now.toISOString() });
  });

  it("treats a node without a position, or on another epoch, as behind everything", () => {
    expect(computeLag(newest, null, null, now)).toMatchObject({ offsets: 101, ms: 1000 });
    expect(computeLag(newest, { offset: 5, epoch: "old" }, null, now)).toMatchObject({ offsets: 101 });
  });

  it("never reports negative lag when a read of the newest position is older than the node", () => {
    expect(computeLag(newest, { offset: 120, epoch: "e" }, now, now)).toMatchObject({ offsets: 0, ms: 0 });
  });
});
