/** GET /v1/channels/{channel}/messages?since&epoch&limit — history still retained in the bus. */
import { Hono } from "hono";
import type { Collection } from "mongodb";
import type { BusDoc } from "../../shared/bus/doc.ts";
import { readHistory } from "../../shared/bus/history.ts";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";
import { type MessageLimits, validateChannel } from "../../shared/message.ts";
import type { IngestEnv } from "../env.ts";
import { authorizeChannels } from "../middleware/auth.ts";

const MAX_LIMIT = 1000;

function parseQuery(q: Record<string, string>) {
  const int = (name: string, v: string | undefined, max: number) => {
    if (v === undefined) return undefined;
    if (!/^\d{1,16}$/.test(v) || Number(v) > max) {
      throw new TailcastError(ErrorCode.invalidQuery, `\`${name}\` must be an integer from 0 to ${max}.`);
    }
    return Number(v);
  };
  const since = int("since", q.since, Number.MAX_SAFE_INTEGER);
  const limit = int("limit", q.limit, MAX_LIMIT) ?? 100;
  if (limit === 0) throw new TailcastError(ErrorCode.invalidQuery, "`limit` must be at least 1.");
  if (
    (since === undefined) !== (q.epoch === undefined) ||
    (q.epoch !== undefined && !/^[\w-]{1,64}$/.test(q.epoch))
  ) {
    throw new TailcastError(
      ErrorCode.invalidQuery,
      "`since` and `epoch` go together: an offset and the epoch it came from.",
    );
  }
  return { since: since === undefined ? null : { offset: since, epoch: q.epoch as string }, limit };
}

export function historyRoutes(deps: {
  /** The bus the channel lives in. */
  bus: (channel: string) => Promise<Collection<BusDoc>>;
  limits: MessageLimits;
}): Hono<IngestEnv> {
  const app = new Hono<IngestEnv>();
  app.get("/v1/channels/:channel/messages", async (c) => {
    const channel = validateChannel(c.req.param("channel"), deps.limits);
    authorizeChannels(c, [channel]);
    const { since, limit } = parseQuery(c.req.query());
    return c.json(await readHistory(await deps.bus(channel), channel, since, limit));
  });
  return app;
}
