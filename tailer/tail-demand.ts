/**
 * Tail on demand (README "Tail on demand and affinity"): which buses a node tails, from who holds
 * them. A subscription holds its channel's bus; the bus's tail opens with the first hold and closes
 * `idleMs` after the last one was released, unless a new hold came meanwhile. Pure state over
 * injected timers: opening and closing are the caller's (tailer/buses.ts).
 */

/** The timers the idle close runs on; tests pass a fake clock. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface DemandActions {
  /** Bus `bus` gained its first holder while closed: open its tail (synchronously, so the holder can use it). */
  open(bus: number): void;
  /** Bus `bus` has had no holder for the idle time: close its tail. */
  close(bus: number): void;
}

interface BusDemand {
  holders: number;
  open: boolean;
  idle: unknown | null;
}

export class TailDemand {
  readonly #buses: BusDemand[];
  readonly #idleMs: number;
  readonly #actions: DemandActions;
  readonly #timers: Timers;
  #stopped = false;

  constructor(buses: number, idleMs: number, actions: DemandActions, timers: Timers = realTimers) {
    if (!Number.isInteger(buses) || buses < 1) throw new RangeError("buses must be a positive integer");
    if (!(idleMs >= 0)) throw new RangeError("idleMs must be at least 0");
    this.#buses = Array.from({ length: buses }, () => ({ holders: 0, open: false, idle: null }));
    this.#idleMs = idleMs;
    this.#actions = actions;
    this.#timers = timers;
  }

  /** Takes a hold on `bus`, opening its tail if it was closed; returns the release (idempotent). */
  hold(bus: number): () => void {
    const state = this.#state(bus);
    state.holders++;
    this.#cancelIdle(state);
    if (!state.open && !this.#stopped) {
      state.open = true;
      this.#actions.open(bus);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.holders--;
      if (state.holders === 0 && state.open && !this.#stopped) {
        state.idle = this.#timers.set(() => this.#idleFor(bus), this.#idleMs);
      }
    };
  }

  holders(bus: number): number {
    return this.#state(bus).holders;
  }

  /** True from the open of the bus's tail to its close. */
  isOpen(bus: number): boolean {
    return this.#state(bus).open;
  }

  /** Nothing opens or closes any more (the node stops and closes every tail itself). */
  stop(): void {
    this.#stopped = true;
    for (const state of this.#buses) this.#cancelIdle(state);
  }

  #idleFor(bus: number): void {
    const state = this.#state(bus);
    state.idle = null;
    if (state.holders > 0 || !state.open || this.#stopped) return;
    state.open = false;
    this.#actions.close(bus);
  }

  #cancelIdle(state: BusDemand): void {
    if (state.idle === null) return;
    this.#timers.clear(state.idle);
    state.idle = null;
  }

  #state(bus: number): BusDemand {
    const state = this.#buses[bus];
    if (state === undefined) throw new RangeError(`no bus ${bus}`);
    return state;
  }
}
