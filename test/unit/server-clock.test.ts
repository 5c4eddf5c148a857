/** The database server's clock (shared/bus/server-clock.ts) with a fake `hello`: no I/O, no waiting. */
import type { Db } from "mongodb";
import { describe, expect, it } from "vitest";
import { serverClock } from "../../shared/bus/server-clock.ts";

function fakeServer(serverStart: number, mono: { t: number }, roundTripMs = 0) {
  let hellos = 0;
  const db = {
    command: async () => {
      hellos++;
      const at = serverStart + mono.t + roundTripMs / 2;
      mono.t += roundTripMs;
      return { localTime: new Date(at) };
    },
  } as unknown as Db;
  return { db: async () => db, hellos: () => hellos };
}

describe("server clock", () => {
  it("reads the server's time, not this process's wall clock, and carries it forward monotonically", async () => {
    const mono = { t: 1000 };
    // The server is an hour behind this process's wall clock.
    const serverStart = Date.now() - 3_600_000;
    const server = fakeServer(serverStart, mono, 10);
    const clock = serverClock(server.db, { refreshMs: 60_000, monotonic: () => mono.t });
    const first = await clock.now();
    expect(first).toBe(serverStart + 1010);
    mono.t += 5000;
    expect(await clock.now()).toBe(first + 5000);
    expect(server.hellos()).toBe(1);
  });

  it("re-reads the server's time once the refresh interval is over", async () => {
    const mono = { t: 0 };
    const server = fakeServer(Date.UTC(2030, 0, 1), mono);
    const clock = serverClock(server.db, { refreshMs: 1000, monotonic: () => mono.t });
    await Promise.all([clock.now(), clock.now()]);
    expect(server.hellos()).toBe(1);
    mono.t += 1001;
    expect(await clock.now()).toBe(Date.UTC(2030, 0, 1) + 1001);
    expect(server.hellos()).toBe(2);
  });

  it("refuses a server whose hello has no localTime", async () => {
    const db = { command: async () => ({}) } as unknown as Db;
    const clock = serverClock(async () => db);
    await expect(clock.now()).rejects.toThrow(/localTime/);
  });
});
