/**
 * GET /v1/channels/{channel}/presence — who is subscribed to the channel across the tailer fleet
 * (README "Presence"), summed from the nodes' live presence documents. Authorized like history: an API
 * key or a subscriber token whose channels allow it, and rate-limited the same way (middleware/auth.ts).
 */
import { Hono } from "hono";
import { type MessageLimits, validateChannel } from "../../shared/message.ts";
import type { PresenceReader } from "../../shared/presence/collection.ts";
import type { IngestEnv } from "../env.ts";
import { authorizeChannels } from "../middleware/auth.ts";

export function presenceRoutes(deps: { presence: PresenceReader; limits: MessageLimits }): Hono<IngestEnv> {
  const app = new Hono<IngestEnv>();
  app.get("/v1/channels/:channel/presence", async (c) => {
    const channel = validateChannel(c.req.param("channel"), deps.limits);
    authorizeChannels(c, [channel]);
    return c.json(await deps.presence(channel), 200, { "Cache-Control": "no-store" });
  });
  return app;
}
