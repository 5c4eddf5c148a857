/**
 * The production bundles (infra/build/bundle.ts, README "Deploying" → "Bundles"): what each contains
 * (the functions bundles carry no Socket.IO or ws code), and that each runs with plain `node` from a
 * directory with no node_modules — the Node ingest function and the tailer against the test database
 * (a publish reaches a subscriber; the tailer serves its pages and Socket.IO's browser client), the
 * fetch-style entry called in a child process.
 */
import { execFile, fork } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/devdb/launcher.ts";
import { type Component, startComponent } from "../../infra/local/component.ts";
import { type BuiltBundles, buildToTemp } from "../helpers/bundles.ts";
import { connectSubscriber } from "../helpers/recording-client.ts";
import { componentEnv, publish, stopAll, testDbName } from "../helpers/stack.ts";

const db = testDbName(import.meta.url);
let bundles: BuiltBundles;

beforeAll(async () => {
  bundles = await buildToTemp();
});
afterAll(() => bundles?.remove());

/** Packages (by their node_modules path) whose code went into a bundle. */
function packagesIn(meta: Metafile): Set<string> {
  const names = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

const REALTIME = ["socket.io", "engine.io", "socket.io-parser", "socket.io-adapter", "ws"];

describe("bundle contents", () => {
  it("the functions bundles hold no Socket.IO or ws code; the tailer's does (the check sees them)", () => {
    for (const name of ["functions-node", "functions-lambda", "functions-fetch"]) {
      const packages = packagesIn(bundles.metafiles[name] as Metafile);
      expect(packages.has("mongodb"), name).toBe(true);
      expect(
        REALTIME.filter((p) => packages.has(p)),
        name,
      ).toEqual([]);
    }
    const tailer = packagesIn(bundles.metafiles.tailer as Metafile);
    expect(REALTIME.filter((p) => tailer.has(p))).toEqual(REALTIME);
  });

  it("each entry exports what its runtime calls", () => {
    const exportsOf = (name: string) =>
      Object.values((bundles.metafiles[name] as Metafile).outputs).find((o) => o.entryPoint)?.exports;
    expect(exportsOf("functions-lambda")).toContain("handler");
    expect(exportsOf("functions-fetch")).toEqual(["default"]);
    expect(exportsOf("functions-node")).toEqual([]);
  });

  it("configuration errors read as from the sources (zod's English messages are kept)", async () => {
    const run = promisify(execFile)(process.execPath, [bundles.file("functions/node.mjs")], {
      cwd: bundles.outDir,
      env: { PATH: process.env.PATH ?? "", PORT: "abc", TAILCAST_AUTH: "off" },
    });
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr:
        "[functions] cannot start: Invalid configuration: PORT: Invalid input: expected number, received NaN\n",
    });
  });

  it("the tailer's static files sit beside it", () => {
    for (const file of ["public/index.html", "public/demo-client.js", "client-dist/socket.io.min.js"]) {
      expect(existsSync(bundles.file(`tailer/${file}`)), file).toBe(true);
    }
  });
});

describe("the bundles run with plain node", () => {
  let ingest: Component;
  let tailer: Component;

  beforeAll(async () => {
    const env = componentEnv({ db });
    ingest = await startComponent({ kind: "functions", env, bundleDir: bundles.outDir });
    tailer = await startComponent({ kind: "tailer", env, bundleDir: bundles.outDir });
    await Promise.all([ingest.ready(), tailer.ready()]);
  });
  afterAll(() => stopAll([ingest, tailer]));

  it("a message published to the Node function reaches a tailer's subscriber", async () => {
    const sub = await connectSubscriber(tailer.url);
    try {
      await sub.subscribe("bundled");
      const res = await publish(ingest, "bundled", { hello: "prod" });
      expect(res.status).toBe(201);
      const [got] = await sub.waitFor(1);
      expect(got).toMatchObject({ id: res.body.id, data: { hello: "prod" } });
    } finally {
      sub.close();
    }
  });

  it("the tailer serves the demo page, its prebuilt client and Socket.IO's browser client", async () => {
    const get = async (path: string) => {
      const res = await fetch(`${tailer.url}${path}`);
      return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
    };
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.text).toContain("/demo/client.js");
    const client = await get("/demo/client.js");
    expect(client).toMatchObject({ status: 200, type: expect.stringMatching(/javascript/) });
    expect(client.text).toContain("createClient");
    const io = await get("/socket.io/socket.io.min.js");
    expect(io).toMatchObject({ status: 200, type: expect.stringMatching(/javascript/) });
    expect(io.text).toContain("Socket.IO");
  });

  it("the fetch-style entry answers through its default export", async () => {
    const script = `
      const { default: app } = await import(${JSON.stringify(`file://${bundles.file("functions/fetch.mjs")}`)});
      const post = await app.fetch(new Request("http://fn/v1/channels/bundled/messages", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ data: "fetch" }),
      }));
      const ready = await app.fetch(new Request("http://fn/readyz"));
      console.log(JSON.stringify({ post: post.status, body: await post.json(), ready: ready.status }));
      process.exit(0);
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: bundles.outDir,
      env: { PATH: process.env.PATH ?? "", ...componentEnv({ db }), TAILCAST_LOG_LEVEL: "error" },
    });
    const out = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
    expect(out).toMatchObject({
      post: 201,
      body: { channel: "bundled", offset: expect.any(Number) },
      ready: 200,
    });
  });

  it.each([
    ["tailer", "tailer/main.mjs"],
    ["ingest function", "functions/node.mjs"],
  ])(
    "the %s tells a supervisor (pm2's wait_ready) when it is ready, and stops when asked",
    async (_, file) => {
      const port = await freePort();
      const child = fork(bundles.file(file), [], {
        cwd: bundles.outDir,
        env: { PATH: process.env.PATH ?? "", ...componentEnv({ db }), HOST: "127.0.0.1", PORT: String(port) },
        stdio: "ignore",
      });
      try {
        const [message] = await once(child, "message");
        expect(message).toBe("ready");
        // Ready means what /readyz says (for a tailer: a live cursor on the bus).
        expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
        const exited = once(child, "exit");
        child.send("shutdown"); // pm2's shutdown_with_message: handled as SIGTERM
        expect(await exited).toEqual([0, null]);
      } finally {
        child.kill("SIGKILL");
      }
    },
  );
});
