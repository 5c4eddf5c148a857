/** The demo chat page, served by every tailer node; it posts to the ingest function and listens here. */
import { readFileSync } from "node:fs";
import { Hono } from "hono";
import type { TailerConfig } from "../shared/config.ts";

const page = readFileSync(new URL("./public/index.html", import.meta.url), "utf8");

export function demoRoutes(config: TailerConfig, authOff: boolean): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(page));
  app.get("/demo/config.json", (c) =>
    c.json({ ingestUrl: config.ingestUrl, node: config.nodeId, channel: "chat", event: "chat", authOff }),
  );
  return app;
}
