/**
 * The status page's bus rows (tailer/status-bus.ts via buildStatus): one row per bus with its span,
 * retention at its own publish rate and the serving node's view of it; a bus that is down shows as such.
 */
import { describe, expect, it } from "vitest";
import { type BusRowInput, buildStatus, type StatusInputs } from "../../tailer/status.ts";

const now = new Date("2026-01-01T00:10:00.000Z");
const at = (iso: string) => new Date(`2026-01-01T${iso}Z`);
const ends0 = {
  oldest: { offset: 401, epoch: "e0", ts: at("00:09:30.000") },
  newest: { offset: 1000, epoch: "e0", ts: at("00:09:59.900") },
};

function input(overrides: Partial<BusRowInput> & Pick<BusRowInput, "index" | "collection">): BusRowInput {
  return {
    tailing: true,
    answering: true,
    read: 0,
    delivered: 0,
    publishRate: null,
    ends: null,
    error: null,
    ...overrides,
  };
}

function inputs(buses: BusRowInput[]): StatusInputs {
  return { now, self: "t", nodes: [], bus: ends0, busError: null, nodesError: null, publishRate: 20, buses };
}

describe("buildStatus with several buses", () => {
  it("gives one row per bus: span, retention at the bus's own rate, and the serving node's view", () => {
    const s = buildStatus(
      inputs([
        input({ index: 0, collection: "bus", publishRate: 20, read: 900, delivered: 600, ends: ends0 }),
        input({
          index: 1,
          collection: "bus_1",
          tailing: false,
          ends: {
            oldest: { offset: 0, epoch: "e1", ts: at("00:00:00.000") },
            newest: { offset: 9, epoch: "e1", ts: at("00:01:00.000") },
          },
        }),
        input({ index: 2, collection: "bus_2", answering: false, error: "no answer within 2000 ms" }),
      ]),
    );
    expect(s.buses).toEqual([
      {
        index: 0,
        collection: "bus",
        tailing: true,
        answering: true,
        epoch: "e0",
        oldestOffset: 401,
        newestOffset: 1000,
        retainedMessages: 600,
        coveredSeconds: 29.9,
        publishRate: 20,
        retentionSeconds: 30,
        read: 900,
        delivered: 600,
        error: null,
      },
      {
        index: 1,
        collection: "bus_1",
        tailing: false,
        answering: true,
        epoch: "e1",
        oldestOffset: 0,
        newestOffset: 9,
        retainedMessages: 10,
        coveredSeconds: 60,
        // Not tailed by the serving node: its rate, hence its retention at that rate, is unknown.
        publishRate: null,
        retentionSeconds: null,
        read: 0,
        delivered: 0,
        error: null,
      },
      {
        index: 2,
        collection: "bus_2",
        tailing: true,
        answering: false,
        epoch: null,
        oldestOffset: null,
        newestOffset: null,
        retainedMessages: null,
        coveredSeconds: null,
        publishRate: null,
        retentionSeconds: null,
        read: 0,
        delivered: 0,
        error: "no answer within 2000 ms",
      },
    ]);
    // Bus 0's own figures stay where the one-bus page reads them.
    expect(s.bus).toMatchObject({ newestOffset: 1000, retentionSeconds: 30 });
  });

  it("has no rows when none are given (the shape of before), one row with one bus", () => {
    expect(buildStatus({ ...inputs([]), buses: undefined }).buses).toEqual([]);
    const one = buildStatus(inputs([input({ index: 0, collection: "bus", publishRate: 20, ends: ends0 })]));
    expect(one.buses.map((b) => [b.index, b.newestOffset, b.retentionSeconds])).toEqual([[0, 1000, 30]]);
  });
});
