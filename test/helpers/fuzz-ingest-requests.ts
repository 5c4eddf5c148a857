/**
 * fast-check generators of hostile requests to the ingest API (README "HTTP"). A request is plain data:
 * credentials are named (`auth: "valid"`), not embedded, and the bus epoch is the placeholder
 * `{epoch}`, so the same seed gives the same requests in every run and a failure prints readably.
 */
import fc from "fast-check";
import { anyBody, batchBody, hugeBody, singleBody, watchedBody } from "./fuzz-ingest-bodies.ts";
import { channelSegment, idempotencyPool, WATCHED_CHANNELS } from "./fuzz-ingest-channels.ts";

export const AUTH_CHOICES = [
  "none",
  "valid",
  "validLowercase",
  "validPadded",
  "wrongScope",
  "keyPlusChar",
  "keyPrefixOnly",
  "garbage",
  "basic",
  "bearerOnly",
  "otherScheme",
  "hugeBearer",
  "jwtAll",
  "jwtScoped",
  "jwtForged",
  "jwtExpired",
  "unsignedJwt",
] as const;
export type AuthChoice = (typeof AUTH_CHOICES)[number];
/** Choices that carry the fuzz key itself: the only ones that may publish. */
export const PUBLISHING_AUTH: ReadonlySet<AuthChoice> = new Set(["valid", "validLowercase", "validPadded"]);

export interface FuzzRequest {
  /** What the generator meant, for statistics: "single", "batch", "history", "other". */
  intent: string;
  method: string;
  /** Path and query, sent as is; `{epoch}` stands for the bus epoch. */
  path: string;
  contentType: string | null;
  auth: AuthChoice;
  idempotencyKey: string | null;
  body: Uint8Array | null;
  chunked: boolean;
}

const latin1 = (min: number, max: number) =>
  fc
    .array(
      fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f),
      { minLength: min, maxLength: max },
    )
    .map((cs) => String.fromCharCode(...cs));

// ---- paths --------------------------------------------------------------------------------------

const queryValue = fc.oneof(
  fc.nat({ max: 100_000 }).map(String),
  fc.constantFrom(
    "-1",
    "1e3",
    "0x10",
    "99999999999999999999",
    "9007199254740992",
    "9007199254740991",
    "",
    "abc",
    "%00",
    "NaN",
    "Infinity",
    "%201",
    "+1",
    "1.0",
    "%EF%BC%91",
    "1%00",
    "0",
    "1000",
    "1001",
    "{epoch}",
    "%24where",
    "a%26b%3Dc",
  ),
);
const historyQuery = fc
  .record(
    {
      since: queryValue,
      epoch: fc.oneof(
        { weight: 4, arbitrary: fc.constant("{epoch}") },
        { weight: 1, arbitrary: fc.constantFrom("x", "", "a%20b", "x".repeat(65), "%24where", "%00", "..") },
      ),
      limit: queryValue,
      extra: fc.constantFrom(
        "since[]=1",
        "limit=1&limit=2",
        "__proto__[x]=1",
        "constructor=1",
        "&&&",
        "=",
        "%",
      ),
    },
    { requiredKeys: [] },
  )
  .map((q) => {
    const parts = Object.entries(q).map(([k, v]) => (k === "extra" ? v : `${k}=${v}`));
    return parts.length === 0 ? "" : `?${parts.join("&")}`;
  });

const UNKNOWN_PATHS = [
  "/",
  "/v1",
  "/v1/",
  "/v1/channels",
  "/v1/channels/",
  "/v1/channels/fz:a",
  "/v1/channels/fz:a/messages/extra",
  "/v1/channels//messages",
  "/v2/messages",
  "/v1/messages/",
  "/V1/MESSAGES",
  "/v1/channels/fz:a/messages/",
  "//v1//messages",
  "/v1/./messages",
  "/v1/../v1/messages",
  "/v1/channels/fz:a/../../messages",
  "/healthz/",
  "/%",
  "/%zz",
  "/v1\\messages",
  "/v1/channels/fz:a\\/messages",
  "/favicon.ico",
  "/.env",
  "/v1/messages#frag",
  "/*",
  "/v1/*",
  "/socket.io/?EIO=4&transport=polling",
  "/v1/messages;jsessionid=1",
  "/v1/messages%00",
  "/v1%2Fmessages",
];

const singlePath = fc
  .tuple(channelSegment, fc.option(historyQuery, { freq: 6, nil: "" }))
  .map(([seg, q]) => `/v1/channels/${seg}/messages${q}`);
const historyPath = fc
  .tuple(channelSegment, historyQuery)
  .map(([seg, q]) => `/v1/channels/${seg}/messages${q}`);
const anyPath = fc.oneof(
  { weight: 4, arbitrary: singlePath },
  { weight: 2, arbitrary: fc.constant("/v1/messages") },
  { weight: 1, arbitrary: fc.constantFrom("/healthz", "/readyz", "/healthz?x=1") },
  { weight: 3, arbitrary: fc.constantFrom(...UNKNOWN_PATHS) },
  { weight: 1, arbitrary: latin1(0, 30).map((s) => `/${s.replace(/[^\x21-\xff]/g, "%20")}`) },
);

// ---- headers ------------------------------------------------------------------------------------

const CONTENT_TYPES = [
  "application/json; charset=utf-8",
  "application/json;charset=utf-8",
  "application/json;charset=UTF-8",
  "APPLICATION/JSON",
  "Application/Json ; charset=utf-8",
  "application/vnd.api+json",
  "application/merge-patch+json",
  "application/json; charset=iso-8859-1",
  "application/json;charset=utf-16",
  "text/plain",
  "text/plain; charset=utf-8",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/jsonx",
  "application/json-patch+json",
  "application/json5",
  "json",
  "",
  "*/*",
  "application/*",
  "application/json, text/plain",
  "application/json\t",
];
const contentType = fc.oneof(
  { weight: 11, arbitrary: fc.constant<string | null>("application/json") },
  { weight: 6, arbitrary: fc.constantFrom<string | null>(...CONTENT_TYPES) },
  { weight: 2, arbitrary: fc.constant<string | null>(null) },
  { weight: 1, arbitrary: latin1(0, 40) },
);

const authChoice = fc.oneof(
  { weight: 16, arbitrary: fc.constant<AuthChoice>("valid") },
  { weight: 2, arbitrary: fc.constantFrom<AuthChoice>("validLowercase", "validPadded") },
  { weight: 6, arbitrary: fc.constantFrom<AuthChoice>(...AUTH_CHOICES) },
);

const idempotencyHeader = fc.oneof(
  { weight: 14, arbitrary: fc.constant<string | null>(null) },
  { weight: 3, arbitrary: idempotencyPool },
  { weight: 2, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,64}$/) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom("", "a b", "é", "\t", "x".repeat(256), "\u00ff\u00fe"),
      // Node refuses more than 16 KiB of headers in all (431) before the app sees them.
      fc.integer({ min: 256, max: 6000 }).map((n) => "k".repeat(n)),
      latin1(1, 30),
    ),
  },
);

// ---- requests -----------------------------------------------------------------------------------

const method = (favourite: string) =>
  fc.oneof(
    { weight: 18, arbitrary: fc.constant(favourite) },
    { weight: 3, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD") },
  );

const common = {
  contentType,
  auth: authChoice,
  idempotencyKey: idempotencyHeader,
  chunked: fc.oneof(
    { weight: 7, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
};

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      ...common,
      intent: fc.constant("single"),
      method: method("POST"),
      path: singlePath,
      body: fc.oneof({ weight: 60, arbitrary: singleBody }, { weight: 1, arbitrary: hugeBody }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      ...common,
      intent: fc.constant("batch"),
      method: method("POST"),
      path: fc.constant("/v1/messages"),
      body: batchBody,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      ...common,
      intent: fc.constant("history"),
      method: method("GET"),
      path: historyPath,
      body: fc.constant(null),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      ...common,
      intent: fc.constant("other"),
      method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
      path: anyPath,
      body: fc.option(anyBody, { nil: null }),
    }),
  },
);

/** Valid publishes to the watched channels with hostile payloads and event names, for a subscriber. */
export const watchedPublish: fc.Arbitrary<FuzzRequest> = fc.record({
  intent: fc.constant("watched"),
  method: fc.constant("POST"),
  path: fc.constantFrom(...WATCHED_CHANNELS).map((c) => `/v1/channels/${encodeURIComponent(c)}/messages`),
  contentType: fc.constant("application/json"),
  auth: fc.constant<AuthChoice>("valid"),
  idempotencyKey: fc.constant(null),
  body: watchedBody,
  chunked: fc.constant(false),
});
