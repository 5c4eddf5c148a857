/** The ingest route: validate, then append to the bus; 201 only once the write is acknowledged (G6). */
import { Hono } from "hono";
import {
  type MessageLimits,
  validateBatch,
  validateIdempotencyKey,
  validateMessage,
} from "../../shared/message.ts";
import type { IngestEnv } from "../env.ts";
import { authorizeChannels, requireAction } from "../middleware/auth.ts";
import { jsonBody, readJson } from "../middleware/json-body.ts";
import { type PublishDeps, publishMessages } from "../publish.ts";

export interface IngestDeps extends PublishDeps {
  limits: MessageLimits;
  maxBodyBytes: number;
}

export function ingestRoutes(deps: IngestDeps): Hono<IngestEnv> {
  const app = new Hono<IngestEnv>();
  const body = jsonBody({ maxBytes: deps.maxBodyBytes });

  app.post("/v1/channels/:channel/messages", body, async (c) => {
    const message = validateMessage(c.req.param("channel"), await readJson(c), deps.limits);
    requireAction(c, "publish");
    authorizeChannels(c, [message.channel]);
    const header = c.req.header("idempotency-key");
    if (header !== undefined) message.idempotencyKey = validateIdempotencyKey(header);
    const { receipts, replayed } = await publishMessages(deps, c.get("publisherId"), [message]);
    if (replayed[0]) c.header("Idempotent-Replayed", "true");
    return c.json(receipts[0], 201);
  });

  app.post("/v1/messages", body, async (c) => {
    const messages = validateBatch(await readJson(c), deps.limits);
    requireAction(c, "publish");
    authorizeChannels(
      c,
      messages.map((m) => m.channel),
    );
    const { receipts } = await publishMessages(deps, c.get("publisherId"), messages);
    return c.json({ results: receipts }, 201);
  });

  return app;
}
