// `npm run keys -- <command>`: credentials for tailcast.
//   new <id> <pattern...> [--rate <n>] [--burst <n>]   a fresh API key (printed once) and its config entry
//   hash [<key>]                                       the SHA-256 to configure (reads stdin without <key>,
//                                                      which keeps the key out of shell history)
//   token --sub <sub> --channels a,b [--ttl 3600] [--secret <s>] [--aud <a>] [--iss <i>]
//                                                      an HS256 JWT for local testing; the secret defaults
//                                                      to TAILCAST_JWT_SECRET
// Results go to stdout (one per line, for scripts); explanations go to stderr.
import { realpathSync } from "node:fs";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { generateApiKey, hashApiKey, parseApiKeys } from "../shared/auth/api-keys.ts";
import { patternProblem } from "../shared/auth/channel-patterns.ts";
import { MIN_SECRET_BYTES } from "../shared/auth/jwt-config.ts";
import { isTailcastError } from "../shared/errors.ts";

export interface KeysIo {
  out(line: string): void;
  err(line: string): void;
  readStdin(): Promise<string>;
  env: Record<string, string | undefined>;
  /** Seconds since the epoch, for `token`. */
  nowSec(): number;
}

const USAGE = `usage:
  npm run keys -- new <id> <pattern...> [--rate <per-second>] [--burst <n>]
  npm run keys -- hash [<key>]            (reads the key from stdin when omitted)
  npm run keys -- token --sub <sub> --channels <a,b> [--ttl <sec>] [--secret <s>] [--aud <a>] [--iss <i>]`;

class UsageError extends Error {}

function positiveNumber(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number`);
  return n;
}

function newKey(args: string[], io: KeysIo): void {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { rate: { type: "string" }, burst: { type: "string" } },
  });
  const [id, ...channels] = positionals;
  if (id === undefined || channels.length === 0)
    throw new UsageError("new needs <id> and at least one pattern");
  const key = generateApiKey();
  const entry: Record<string, unknown> = { id, sha256: hashApiKey(key), channels };
  const rate = positiveNumber("rate", values.rate);
  const burst = positiveNumber("burst", values.burst);
  if (rate !== undefined) entry.ratePerSecond = rate;
  if (burst !== undefined) entry.burst = burst;
  // The same validation the server applies, so a printed entry is always accepted.
  parseApiKeys(JSON.stringify([entry]), "entry");
  io.err(`API key for "${id}" (shown once: give it to the publisher; tailcast stores only its hash):`);
  io.out(key);
  io.err("Add this entry to the TAILCAST_API_KEYS JSON array:");
  io.out(JSON.stringify(entry));
}

async function hash(args: string[], io: KeysIo): Promise<void> {
  if (args.length > 1) throw new UsageError("hash takes at most one key");
  const key = (args[0] ?? (await io.readStdin())).trim();
  if (key === "") throw new UsageError("no key given");
  io.out(hashApiKey(key));
}

async function token(args: string[], io: KeysIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      secret: { type: "string" },
      sub: { type: "string" },
      channels: { type: "string" },
      ttl: { type: "string", default: "3600" },
      aud: { type: "string" },
      iss: { type: "string" },
    },
  });
  const secret = values.secret ?? io.env.TAILCAST_JWT_SECRET;
  if (secret === undefined || Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new UsageError(`--secret (or TAILCAST_JWT_SECRET) must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  if (!values.sub) throw new UsageError("token needs --sub");
  const channels = (values.channels ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  if (channels.length === 0) throw new UsageError("token needs --channels (comma-separated patterns)");
  for (const c of channels) {
    const problem = patternProblem(c);
    if (problem !== undefined) throw new UsageError(`channel pattern ${JSON.stringify(c)} ${problem}`);
  }
  const ttl = positiveNumber("ttl", values.ttl) ?? 3600;
  const now = io.nowSec();
  let jwt = new SignJWT({ channels })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(values.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.round(ttl));
  if (values.aud !== undefined) jwt = jwt.setAudience(values.aud);
  if (values.iss !== undefined) jwt = jwt.setIssuer(values.iss);
  io.out(await jwt.sign(new TextEncoder().encode(secret)));
}

/** Runs one command; returns the exit code. */
export async function runKeys(argv: string[], io: KeysIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "new") newKey(rest, io);
    else if (command === "hash") await hash(rest, io);
    else if (command === "token") await token(rest, io);
    else throw new UsageError(command === undefined ? "missing command" : `unknown command "${command}"`);
    return 0;
  } catch (err) {
    // parseArgs reports unknown or malformed options with a TypeError carrying an ERR_PARSE_ARGS_* code.
    const parseError = (err as { code?: unknown }).code?.toString().startsWith("ERR_PARSE_ARGS") === true;
    if (err instanceof UsageError || parseError) {
      io.err(`error: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    if (isTailcastError(err)) {
      io.err(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(new URL(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const io: KeysIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    readStdin,
    env: process.env,
    nowSec: () => Math.floor(Date.now() / 1000),
  };
  process.exitCode = await runKeys(process.argv.slice(2), io);
}
