/** The ingest route: validate, then append to the bus; 201 only once the write is acknowledged (G6). */
import { Hono } from "hono";
import type { Appended, BusWriter } from "../../shared/bus/append.ts";
import { type MessageLimits, validateBatch, validateMessage } from "../../shared/message.ts";
import { jsonBody, readJson } from "../middleware/json-body.ts";

export interface IngestDeps {
  writer: () => Promise<BusWriter>;
  limits: MessageLimits;
  maxBodyBytes: number;
}

const receipt = (a: Appended) => ({ id: a.id, channel: a.channel, offset: a.offset, epoch: a.epoch });

export function ingestRoutes(deps: IngestDeps): Hono {
  const app = new Hono();
  const body = jsonBody({ maxBytes: deps.maxBodyBytes });

  app.post("/v1/channels/:channel/messages", body, async (c) => {
    const message = validateMessage(c.req.param("channel"), await readJson(c), deps.limits);
    const [appended] = await (await deps.writer()).append([message]);
    return c.json(receipt(appended as Appended), 201);
  });

  app.post("/v1/messages", body, async (c) => {
    const messages = validateBatch(await readJson(c), deps.limits);
    const appended = await (await deps.writer()).append(messages);
    return c.json({ results: appended.map(receipt) }, 201);
  });

  return app;
}
