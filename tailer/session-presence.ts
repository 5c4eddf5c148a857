/**
 * One connection's part in presence (README "Presence"): its joined channels counted in the node's
 * tally, the channels it watches for presence updates (presence-watch.ts), and its `presence` requests.
 * The session (session.ts) calls it as the connection joins and leaves channels.
 */
import { ErrorCode, TailcastError } from "../shared/errors.ts";
import type { PresenceReader } from "../shared/presence/collection.ts";
import type { PresenceUpdate } from "../shared/presence/summary.ts";
import type { PresenceReply } from "../shared/protocol/replies.ts";
import type { PresenceTally } from "./presence-tally.ts";
import type { PresenceWatch } from "./presence-watch.ts";

/** The node's presence as sessions use it (tailer/presence.ts). */
export interface NodePresence {
  tally: PresenceTally;
  read: PresenceReader;
  watch: PresenceWatch;
}

export class SessionPresence {
  readonly #node: NodePresence | undefined;
  readonly #subject: string | null;
  readonly #push: (update: PresenceUpdate) => void;
  /** Channel → its unwatch, for the channels this connection watches. */
  readonly #watches = new Map<string, () => void>();

  /** `push` sends an update to the connection; `subject` is its token's `sub` (null with auth off). */
  constructor(
    node: NodePresence | undefined,
    subject: string | null,
    push: (update: PresenceUpdate) => void,
  ) {
    this.#node = node;
    this.#subject = subject;
    this.#push = push;
  }

  /** The connection joined `channel` (once per channel, however often it resubscribes). */
  joined(channel: string): void {
    this.#node?.tally.join(channel, this.#subject);
  }

  /** The connection left a channel it had joined: no longer counted, nor told. */
  left(channel: string): void {
    this.#node?.tally.leave(channel, this.#subject);
    this.watching(channel, false);
  }

  /** Starts or stops the channel's updates to this connection; the latest subscribe decides. */
  watching(channel: string, on: boolean): void {
    const node = this.#node;
    if (node === undefined || on === this.#watches.has(channel)) return;
    if (on) this.#watches.set(channel, node.watch.watch(channel, this.#push));
    else {
      this.#watches.get(channel)?.();
      this.#watches.delete(channel);
    }
  }

  /** Answers a `presence` request the session has allowed. */
  async reply(channel: string): Promise<PresenceReply> {
    if (this.#node === undefined) {
      throw new TailcastError(ErrorCode.notFound, "Presence is not served by this node.");
    }
    try {
      return { type: "presence", ...(await this.#node.read(channel)) };
    } catch (err) {
      throw new TailcastError(ErrorCode.busUnavailable, "Presence cannot be read right now; retry.", {
        cause: err,
        retryAfter: 1,
      });
    }
  }
}
