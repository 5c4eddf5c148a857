/** Tail on demand (tailer/tail-demand.ts): opens on the first hold, closes after the idle time; fake clock. */
import { describe, expect, it } from "vitest";
import { TailDemand, type Timers } from "../../tailer/tail-demand.ts";

/** A clock that only moves when told; timers fire in due order. */
class FakeClock implements Timers {
  now = 0;
  readonly #due = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  set(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#due.set(id, { at: this.now + ms, fn });
    return id;
  }
  clear(handle: unknown): void {
    this.#due.delete(handle as number);
  }
  get pending(): number {
    return this.#due.size;
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.#due].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > until) break;
      this.#due.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = until;
  }
}

function setup(buses = 3, idleMs = 1000) {
  const clock = new FakeClock();
  const events: string[] = [];
  const demand = new TailDemand(
    buses,
    idleMs,
    { open: (bus) => events.push(`open ${bus}`), close: (bus) => events.push(`close ${bus}`) },
    clock,
  );
  return { clock, events, demand };
}

describe("TailDemand", () => {
  it("opens a bus on its first hold only, and closes it idleMs after the last release", () => {
    const { clock, events, demand } = setup();
    const a = demand.hold(1);
    const b = demand.hold(1);
    expect(events).toEqual(["open 1"]);
    expect(demand.isOpen(1)).toBe(true);
    expect(demand.holders(1)).toBe(2);
    a();
    clock.advance(5000);
    expect(events).toEqual(["open 1"]);
    b();
    clock.advance(999);
    expect(events).toEqual(["open 1"]);
    expect(demand.isOpen(1)).toBe(true);
    clock.advance(1);
    expect(events).toEqual(["open 1", "close 1"]);
    expect(demand.isOpen(1)).toBe(false);
  });

  it("a hold within the idle time keeps the tail open (no close, no second open)", () => {
    const { clock, events, demand } = setup();
    demand.hold(0)();
    clock.advance(500);
    const again = demand.hold(0);
    clock.advance(10_000);
    expect(events).toEqual(["open 0"]);
    again();
    clock.advance(1000);
    expect(events).toEqual(["open 0", "close 0"]);
  });

  it("opens again after a close", () => {
    const { clock, events, demand } = setup();
    demand.hold(2)();
    clock.advance(1000);
    demand.hold(2);
    expect(events).toEqual(["open 2", "close 2", "open 2"]);
  });

  it("a release is counted once however often it is called", () => {
    const { clock, events, demand } = setup();
    const a = demand.hold(0);
    demand.hold(0);
    a();
    a();
    expect(demand.holders(0)).toBe(1);
    clock.advance(10_000);
    expect(events).toEqual(["open 0"]);
  });

  it("keeps each bus on its own", () => {
    const { clock, events, demand } = setup();
    const a = demand.hold(0);
    demand.hold(1);
    a();
    clock.advance(1000);
    expect(events).toEqual(["open 0", "open 1", "close 0"]);
    expect(demand.isOpen(1)).toBe(true);
    expect(demand.isOpen(2)).toBe(false);
  });

  it("with idleMs 0 closes on the next timer turn, not inside the release", () => {
    const { clock, events, demand } = setup(1, 0);
    demand.hold(0)();
    expect(events).toEqual(["open 0"]);
    clock.advance(0);
    expect(events).toEqual(["open 0", "close 0"]);
  });

  it("after stop nothing opens or closes, and no timer is left", () => {
    const { clock, events, demand } = setup();
    const a = demand.hold(0);
    a();
    expect(clock.pending).toBe(1);
    demand.stop();
    expect(clock.pending).toBe(0);
    demand.hold(1)();
    clock.advance(10_000);
    expect(events).toEqual(["open 0"]);
  });

  it("refuses a bus it does not have and bad bounds", () => {
    const { demand } = setup(2);
    expect(() => demand.hold(2)).toThrow(RangeError);
    expect(() => new TailDemand(0, 10, { open() {}, close() {} })).toThrow(RangeError);
    expect(() => new TailDemand(1, -1, { open() {}, close() {} })).toThrow(RangeError);
  });
});
