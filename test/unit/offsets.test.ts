import { describe, expect, it } from "vitest";
import {
  canRecover,
  classifyStep,
  isValidOffset,
  offsetsAfter,
  type Position,
} from "../../shared/offsets.ts";

const at = (offset: number, epoch = "e1"): Position => ({ offset, epoch });

describe("classifyStep", () => {
  const position = at(5);

  it("calls the same or an older offset a duplicate", () => {
    expect(classifyStep(position, at(5))).toEqual({ kind: "duplicate" });
    expect(classifyStep(position, at(4))).toEqual({ kind: "duplicate" });
    expect(classifyStep(position, at(0))).toEqual({ kind: "duplicate" });
  });

  it("calls offset + 1 the next document", () => {
    expect(classifyStep(position, at(6))).toEqual({ kind: "next" });
    expect(classifyStep(at(0), at(1))).toEqual({ kind: "next" });
  });

  it("reports a jump as a gap with the number of documents missed", () => {
    expect(classifyStep(position, at(7))).toEqual({ kind: "gap", missed: 1 });
    expect(classifyStep(position, at(9))).toEqual({ kind: "gap", missed: 3 });
    expect(classifyStep(at(0), at(1_000_001))).toEqual({ kind: "gap", missed: 1_000_000 });
  });

  it("reports a different epoch before looking at offsets", () => {
    expect(classifyStep(position, at(6, "e2"))).toEqual({ kind: "epoch_changed" });
    expect(classifyStep(position, at(5, "e2"))).toEqual({ kind: "epoch_changed" });
    expect(classifyStep(position, at(1, "e2"))).toEqual({ kind: "epoch_changed" });
    expect(classifyStep(position, at(100, "e2"))).toEqual({ kind: "epoch_changed" });
  });
});

describe("offsetsAfter", () => {
  it("returns count contiguous offsets starting one after last", () => {
    expect(offsetsAfter(10, 3)).toEqual([11, 12, 13]);
    expect(offsetsAfter(0, 1)).toEqual([1]);
  });

  it("returns nothing for a count of zero", () => {
    expect(offsetsAfter(10, 0)).toEqual([]);
  });

  it("produces offsets that classifyStep sees as a run of next documents", () => {
    let position = at(41);
    for (const offset of offsetsAfter(41, 50)) {
      expect(classifyStep(position, at(offset))).toEqual({ kind: "next" });
      position = at(offset);
    }
    expect(position.offset).toBe(91);
  });
});

describe("canRecover", () => {
  // The bus retains offsets 50..100 of epoch e1.
  const oldest = at(50);
  const newest = at(100);

  it("is true for a reader already at the newest position", () => {
    expect(canRecover(at(100), oldest, newest)).toBe(true);
  });

  it("is true for a reader one behind", () => {
    expect(canRecover(at(99), oldest, newest)).toBe(true);
  });

  it("is true when the first missed offset is exactly the oldest retained", () => {
    expect(canRecover(at(49), oldest, newest)).toBe(true);
  });

  it("is false one past the retention edge (the first missed offset was evicted)", () => {
    expect(canRecover(at(48), oldest, newest)).toBe(false);
    expect(canRecover(at(0), oldest, newest)).toBe(false);
  });

  it("is false for a position from another epoch, wherever its offset lies", () => {
    expect(canRecover(at(100, "e0"), oldest, newest)).toBe(false);
    expect(canRecover(at(75, "e0"), oldest, newest)).toBe(false);
    expect(canRecover(at(10, "e0"), oldest, newest)).toBe(false);
  });

  it("is false for a position ahead of the newest (it cannot have come from this bus)", () => {
    expect(canRecover(at(101), oldest, newest)).toBe(false);
    expect(canRecover(at(1_000), oldest, newest)).toBe(false);
  });

  it("with no oldest known, is true only for a reader already at the newest", () => {
    expect(canRecover(at(100), null, newest)).toBe(true);
    expect(canRecover(at(99), null, newest)).toBe(false);
  });

  it("is false when the oldest retained document belongs to another epoch", () => {
    expect(canRecover(at(99), at(50, "e0"), newest)).toBe(false);
  });

  it("is true from offset 0 when nothing has been evicted yet", () => {
    expect(canRecover(at(0), at(1), at(3))).toBe(true);
    expect(canRecover(at(0), at(0), at(3))).toBe(true);
  });
});

describe("isValidOffset", () => {
  it.each([0, 1, 42, Number.MAX_SAFE_INTEGER])("accepts %d", (n) => {
    expect(isValidOffset(n)).toBe(true);
  });

  it.each([
    ["negative", -1],
    ["fraction", 1.5],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["unsafe integer", Number.MAX_SAFE_INTEGER + 1],
    ["numeric string", "1"],
    ["bigint", 1n],
    ["null", null],
    ["undefined", undefined],
    ["boxed number", Object(1)],
  ])("rejects %s", (_label, n) => {
    expect(isValidOffset(n)).toBe(false);
  });
});
