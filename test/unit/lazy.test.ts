import { describe, expect, it } from "vitest";
import { cachedUntilFailure } from "../../shared/lazy.ts";

describe("cachedUntilFailure", () => {
  it("makes the value once and shares it, also between concurrent callers", async () => {
    let made = 0;
    const get = cachedUntilFailure(async () => ++made);
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    expect(await get()).toBe(1);
    expect(made).toBe(1);
  });

  it("forgets a failure, so the next call tries again", async () => {
    let calls = 0;
    const get = cachedUntilFailure(async () => {
      calls++;
      if (calls === 1) throw new Error("down");
      return "up";
    });
    await expect(get()).rejects.toThrow("down");
    expect(await get()).toBe("up");
    expect(await get()).toBe("up");
    expect(calls).toBe(2);
  });

  it("makes the value again after reset", async () => {
    let made = 0;
    const get = cachedUntilFailure(async () => ++made);
    expect(await get()).toBe(1);
    get.reset();
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
  });
});
