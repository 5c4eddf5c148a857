/**
 * `npm run build`: the production bundles under dist/ (README "Deploying" → "Bundles"). Each entry is
 * one ESM file for Node 20 with every dependency inside, so it runs with plain `node` and no
 * node_modules: dist/functions/{node,lambda,fetch}.mjs and dist/tailer/main.mjs with the tailer's static
 * files beside it (tailer/public, the demo page's prebuilt client, Socket.IO's browser client).
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { type BuildOptions, build, type Metafile, type Plugin } from "esbuild";
import { REPO_ROOT } from "../devdb/ferretdb-build.ts";

/**
 * Optional requires of the dependencies, each inside a try/catch (or never reached with our options):
 * left out of the bundle, they fail to load at run time exactly as when the package is not installed.
 */
export const OPTIONAL_EXTERNALS = [
  // mongodb: compression, Kerberos, client-side encryption, SOCKS5, cloud credentials.
  "kerberos",
  "snappy",
  "@mongodb-js/zstd",
  "aws4",
  "mongodb-client-encryption",
  "socks",
  "gcp-metadata",
  "@aws-sdk/credential-providers",
  // ws: native helpers.
  "bufferutil",
  "utf-8-validate",
  // debug (socket.io's logger): colours on a terminal.
  "supports-color",
  // TAILCAST_LOG_FORMAT=pretty only (shared/log.ts); production bundles log JSON.
  "pino-pretty",
  // The demo page builds its client at run time only when the prebuilt one (below) is missing.
  "esbuild",
] as const;

/**
 * ESM output keeps the CommonJS dependencies' `require` of Node built-ins working (esbuild's shim calls
 * the real `require` when there is one), and gives them `__filename` / `__dirname` of the bundle file.
 */
const BANNER = [
  'import { createRequire as __tailcastCreateRequire } from "node:module";',
  'import { fileURLToPath as __tailcastFileURLToPath } from "node:url";',
  'import { dirname as __tailcastDirname } from "node:path";',
  "const require = __tailcastCreateRequire(import.meta.url);",
  "const __filename = __tailcastFileURLToPath(import.meta.url);",
  "const __dirname = __tailcastDirname(__filename);",
].join("\n");

/**
 * Socket.IO serves its browser client (`/socket.io/socket.io.js`) from `../client-dist/` next to its own
 * module. Bundled, `__dirname` is dist/tailer: point it at the copy the build puts there.
 */
const socketIoClientDir: Plugin = {
  name: "socket.io-client-dist",
  setup(b) {
    b.onLoad({ filter: /[\\/]socket\.io[\\/]dist[\\/]index\.js$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises");
      const source = await readFile(args.path, "utf8");
      const from = 'path.join(__dirname, "../client-dist/", filename)';
      if (!source.includes(from)) throw new Error(`socket.io changed how it finds client-dist: ${args.path}`);
      const contents = source.replaceAll(from, 'path.join(__dirname, "client-dist/", filename)');
      return { contents, loader: "js" };
    });
  },
};

/**
 * zod's `z.locales` namespace carries the error messages of every language it ships, a fifth of a
 * functions bundle, parsed at every cold start. tailcast speaks English (zod's default, configured from
 * locales/en.js directly) and never reads `z.locales`: only English stays.
 */
const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      loader: "js",
    }));
  },
};

export interface Bundle {
  name: string;
  entry: string;
  /** Path under the output directory. */
  out: string;
}

export const BUNDLES: readonly Bundle[] = [
  { name: "functions-node", entry: "functions/node.ts", out: "functions/node.mjs" },
  { name: "functions-lambda", entry: "functions/lambda.ts", out: "functions/lambda.mjs" },
  { name: "functions-fetch", entry: "functions/fetch.ts", out: "functions/fetch.mjs" },
  { name: "tailer", entry: "tailer/main.ts", out: "tailer/main.mjs" },
];

/** Where the demo page's client is looked for, relative to the tailer's code (tailer/demo.ts). */
export const DEMO_CLIENT_FILE = "public/demo-client.js";

export interface BuildResult {
  outDir: string;
  /** Per bundle: its file and the inputs esbuild put in it. */
  metafiles: Record<string, Metafile>;
  sizes: Record<string, number>;
}

function nodeOptions(outDir: string, bundle: Bundle): BuildOptions {
  return {
    absWorkingDir: REPO_ROOT,
    entryPoints: [join(REPO_ROOT, bundle.entry)],
    outfile: join(outDir, bundle.out),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    // Names kept: error names (`TailcastError`, the driver's `MongoServerError`) show in logs.
    keepNames: true,
    sourcemap: true,
    metafile: true,
    legalComments: "linked",
    external: [...OPTIONAL_EXTERNALS],
    banner: { js: BANNER },
    plugins: bundle.name === "tailer" ? [zodEnglishOnly, socketIoClientDir] : [zodEnglishOnly],
    logLevel: "warning",
  };
}

/** Builds every bundle into `outDir` (emptied first), with the tailer's files and `<bundle>.meta.json` (esbuild's metafiles). */
export async function buildBundles(outDir = join(REPO_ROOT, "dist")): Promise<BuildResult> {
  rmSync(outDir, { recursive: true, force: true });
  const metafiles: Record<string, Metafile> = {};
  const sizes: Record<string, number> = {};
  await Promise.all(
    BUNDLES.map(async (bundle) => {
      const result = await build(nodeOptions(outDir, bundle));
      const meta = result.metafile as Metafile;
      metafiles[bundle.name] = meta;
      const key = relative(REPO_ROOT, join(outDir, bundle.out)).split("\\").join("/");
      sizes[bundle.out] = meta.outputs[key]?.bytes ?? Number.NaN;
    }),
  );
  const tailerDir = join(outDir, "tailer");
  cpSync(join(REPO_ROOT, "tailer", "public"), join(tailerDir, "public"), { recursive: true });
  const socketIoDir = dirname(createRequire(import.meta.url).resolve("socket.io/package.json"));
  cpSync(join(socketIoDir, "client-dist"), join(tailerDir, "client-dist"), { recursive: true });
  await buildDemoClient(join(tailerDir, DEMO_CLIENT_FILE));
  for (const [name, meta] of Object.entries(metafiles)) {
    writeFileSync(join(outDir, `${name}.meta.json`), JSON.stringify(meta));
  }
  return { outDir, metafiles, sizes };
}

/** The TypeScript client as one browser module, as tailer/demo.ts would build it on first request. */
async function buildDemoClient(outfile: string): Promise<void> {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(REPO_ROOT, "client", "index.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    // The demo uses the /ws transport; the Socket.IO one is loaded on demand and left out.
    external: ["socket.io-client"],
    logLevel: "warning",
  });
}
