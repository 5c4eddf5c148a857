import { describe, expect, it } from "vitest";
import { afterAck, isDuplicate } from "../../client/positions.ts";

const at = (offset: number, epoch = "e1") => ({ offset, epoch });

describe("isDuplicate", () => {
  it("delivers anything before the first position", () => {
    expect(isDuplicate(null, at(0))).toBe(false);
  });

  it("drops offsets at or before the position in the same epoch", () => {
    expect(isDuplicate(at(10), at(9))).toBe(true);
    expect(isDuplicate(at(10), at(10))).toBe(true);
    expect(isDuplicate(at(10), at(11))).toBe(false);
    expect(isDuplicate(at(10), at(500))).toBe(false);
  });

  it("never compares offsets across epochs: a new bus starts a new sequence", () => {
    expect(isDuplicate(at(10, "old"), at(1, "new"))).toBe(false);
  });
});

describe("afterAck", () => {
  it("takes the ack's position when there was none", () => {
    expect(afterAck(null, at(7))).toEqual(at(7));
  });

  it("moves forward to the node's position (keeps resumes short on quiet channels)", () => {
    expect(afterAck(at(3), at(7))).toEqual(at(7));
  });

  it("keeps a position already past the ack (a live message beat the ack)", () => {
    const position = at(9);
    expect(afterAck(position, at(7))).toBe(position);
  });

  it("replaces a position from another epoch", () => {
    expect(afterAck(at(900, "old"), at(2, "new"))).toEqual(at(2, "new"));
  });

  it("returns a copy, not the ack object", () => {
    const ack = { offset: 4, epoch: "e1", extra: true };
    expect(afterAck(null, ack)).toEqual(at(4));
  });
});
