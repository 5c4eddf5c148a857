/**
 * Presence updates (README "Presence updates"): the pure diff between two summaries
 * (shared/presence/summary.ts) and the node's watch (tailer/presence-watch.ts) over a fake fleet-wide read.
 */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../shared/log.ts";
import { type PresenceSummary, type PresenceUpdate, presenceUpdate } from "../../shared/presence/summary.ts";
import { isPresenceUpdate } from "../../shared/protocol/presence-update.ts";
import { PresenceWatch } from "../../tailer/presence-watch.ts";

const summary = (subscribers: number, nodes: number, subjects?: string[]): PresenceSummary => ({
  channel: "room",
  subscribers,
  nodes,
  ...(subjects && { subjects }),
});

describe("presenceUpdate", () => {
  it("is the whole summary the first time, without joined or left", () => {
    expect(presenceUpdate(null, summary(2, 1, ["a", "b"]))).toEqual(summary(2, 1, ["a", "b"]));
  });

  it("is null when nothing changed", () => {
    expect(presenceUpdate(summary(2, 1), summary(2, 1))).toBeNull();
    expect(presenceUpdate(summary(2, 1, ["a", "b"]), summary(2, 1, ["a", "b"]))).toBeNull();
  });

  it("reports a change of count or nodes without subjects", () => {
    expect(presenceUpdate(summary(2, 1), summary(3, 1))).toEqual(summary(3, 1));
    expect(presenceUpdate(summary(2, 1), summary(2, 2))).toEqual(summary(2, 2));
  });

  it("names the subjects that joined and left", () => {
    expect(presenceUpdate(summary(2, 1, ["a", "b"]), summary(2, 2, ["b", "c"]))).toEqual({
      ...summary(2, 2, ["b", "c"]),
      joined: ["c"],
      left: ["a"],
    });
    // A second connection of a subject already there changes the count, not the subjects.
    expect(presenceUpdate(summary(1, 1, ["a"]), summary(2, 1, ["a"]))).toEqual({
      ...summary(2, 1, ["a"]),
      joined: [],
      left: [],
    });
  });

  it("is a change when subjects appear or disappear (a node turned them on or off)", () => {
    expect(presenceUpdate(summary(1, 1), summary(1, 1, ["a"]))).toEqual(summary(1, 1, ["a"]));
    expect(presenceUpdate(summary(1, 1, ["a"]), summary(1, 1))).toEqual(summary(1, 1));
  });

  it("produces what the client's guard accepts", () => {
    const update = presenceUpdate(summary(1, 1, ["a"]), summary(2, 2, ["a", "b"]));
    expect(isPresenceUpdate(update)).toBe(true);
    expect(isPresenceUpdate({ channel: "room", subscribers: "2", nodes: 1 })).toBe(false);
    expect(isPresenceUpdate({ channel: "room", subscribers: 2, nodes: 1, joined: [1] })).toBe(false);
  });
});

/** A fleet whose summaries the test sets; counts the reads and what each asked. */
function fleet() {
  const now = new Map<string, PresenceSummary>();
  const reads: string[][] = [];
  let failing = false;
  const watch = new PresenceWatch({
    read: async (channels) => {
      reads.push([...channels]);
      if (failing) throw new Error("database down");
      return new Map(channels.map((c) => [c, now.get(c) ?? { channel: c, subscribers: 0, nodes: 0 }]));
    },
    log: createLogger("test", { level: "error", format: "text", write: () => {} }),
  });
  const set = (channel: string, subscribers: number, nodes: number, subjects?: string[]) =>
    now.set(channel, { channel, subscribers, nodes, ...(subjects && { subjects }) });
  const listener = () => {
    const got: PresenceUpdate[] = [];
    return { got, fn: (u: PresenceUpdate) => void got.push(u) };
  };
  const fail = (on: boolean) => {
    failing = on;
  };
  return { watch, set, reads, listener, fail };
}

describe("PresenceWatch", () => {
  it("reads nothing while nobody watches", async () => {
    const { watch, reads } = fleet();
    await watch.round();
    expect(reads).toEqual([]);
  });

  it("tells every watcher the current summary first, then only changes", async () => {
    const { watch, set, reads, listener } = fleet();
    const x = listener();
    const y = listener();
    watch.watch("room", x.fn);
    watch.watch("room", y.fn);
    set("room", 2, 1, ["alice", "bob"]);
    await watch.round();
    expect(reads).toEqual([["room"]]);
    expect(x.got).toEqual([{ channel: "room", subscribers: 2, nodes: 1, subjects: ["alice", "bob"] }]);
    expect(y.got).toEqual(x.got);

    await watch.round();
    expect(x.got).toHaveLength(1); // nothing changed

    set("room", 2, 2, ["bob", "carol"]);
    await watch.round();
    expect(x.got[1]).toEqual({
      channel: "room",
      subscribers: 2,
      nodes: 2,
      subjects: ["bob", "carol"],
      joined: ["carol"],
      left: ["alice"],
    });
    expect(y.got).toEqual(x.got);
  });

  it("tells a newcomer the current summary although nothing changed, and nobody else", async () => {
    const { watch, set, listener } = fleet();
    const x = listener();
    watch.watch("room", x.fn);
    set("room", 1, 1);
    await watch.round();
    const late = listener();
    watch.watch("room", late.fn);
    await watch.round();
    expect(late.got).toEqual([{ channel: "room", subscribers: 1, nodes: 1 }]);
    expect(x.got).toHaveLength(1);
  });

  it("stops telling a watcher once unwatched, and stops reading a channel nobody watches", async () => {
    const { watch, set, reads, listener } = fleet();
    const x = listener();
    const y = listener();
    const unwatchX = watch.watch("room", x.fn);
    const unwatchY = watch.watch("other", y.fn);
    await watch.round();
    expect(reads.at(-1)?.sort()).toEqual(["other", "room"]);
    unwatchX();
    unwatchX(); // idempotent
    set("room", 5, 1);
    set("other", 3, 1);
    await watch.round();
    expect(reads.at(-1)).toEqual(["other"]);
    expect(x.got).toHaveLength(1);
    expect(y.got.at(-1)).toMatchObject({ channel: "other", subscribers: 3 });
    unwatchY();
    expect(watch.channels).toBe(0);
  });

  it("survives a failed read and tells what changed once it reads again", async () => {
    const { watch, set, listener, fail } = fleet();
    const x = listener();
    watch.watch("room", x.fn);
    set("room", 1, 1);
    await watch.round();
    fail(true);
    set("room", 4, 2);
    await expect(watch.round()).resolves.toBeUndefined();
    expect(x.got).toHaveLength(1);
    fail(false);
    await watch.round();
    expect(x.got.at(-1)).toEqual({ channel: "room", subscribers: 4, nodes: 2 });
  });
});
