/**
 * The demo chat page, served by every tailer node: it publishes through the ingest function and
 * listens with the tailcast client, which moves to another node (TAILCAST_PEER_URLS) if this one dies.
 */
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import type { TailerConfig } from "../shared/config.ts";
import { cachedUntilFailure } from "../shared/lazy.ts";

const page = readFileSync(new URL("./public/index.html", import.meta.url), "utf8");

/** Where the production build (infra/build/bundle.ts) puts the client, next to the page. */
const prebuiltClient = new URL("./public/demo-client.js", import.meta.url);

/**
 * The TypeScript client as one browser module: the prebuilt one in a production bundle, else built on
 * first request (esbuild, well under a second; imported only then, so bundles do not carry it).
 */
const clientBundle = cachedUntilFailure(async () => {
  if (existsSync(prebuiltClient)) return readFile(prebuiltClient, "utf8");
  const { build } = await import("esbuild");
  return build({
    entryPoints: [fileURLToPath(new URL("../client/index.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    // The demo uses the /ws transport; the Socket.IO one is loaded on demand and left out.
    external: ["socket.io-client"],
  }).then((r) => r.outputFiles[0]?.text ?? "");
});

export function demoRoutes(config: TailerConfig, authOff: boolean): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(page));
  app.get("/demo/client.js", async (c) =>
    c.body(await clientBundle(), 200, { "content-type": "text/javascript; charset=utf-8" }),
  );
  app.get("/demo/config.json", (c) =>
    c.json({
      ingestUrl: config.ingestUrl,
      node: config.nodeId,
      peers: config.peerUrls,
      channel: "chat",
      event: "chat",
      authOff,
    }),
  );
  return app;
}
