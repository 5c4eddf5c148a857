/**
 * The message model (README "Message envelope") and its validation. Pure: no I/O, so every rule is unit-tested.
 * `data` travels through the bus as JSON text: user keys never become BSON field names (no `$`
 * operators, dotted paths or `__proto__` surprises) and what a subscriber gets is byte-for-byte what
 * the publisher sent.
 */
import { ErrorCode, TailcastError } from "./errors.ts";
import { isPlainObject } from "./json.ts";
import { PRESENCE_UPDATE_EVENT } from "./protocol/presence-update.ts";
import { SLOW_CONSUMER_EVENT } from "./protocol/slow-consumer.ts";

/** What every subscriber receives. */
export interface Envelope {
  id: string;
  channel: string;
  event: string;
  data: unknown;
  offset: number;
  epoch: string;
  ts: string;
}

/**
 * About the size of the envelope's JSON (the recovery window's byte bound, tailer/window.ts). Pass the
 * length of `data`'s JSON text when it is known (the bus stores it as text) to skip serializing again.
 */
export function envelopeBytes(e: Envelope, dataBytes?: number): number {
  const data = dataBytes ?? JSON.stringify(e.data ?? null).length;
  // Field names, quotes and the offset: a fixed allowance.
  return data + e.id.length + e.channel.length + e.event.length + e.epoch.length + e.ts.length + 80;
}

/** A message validated and ready for the bus. */
export interface OutgoingMessage {
  channel: string;
  event: string;
  /** `data` serialized as JSON text. */
  data: string;
  /** The publisher's idempotency key, as sent (G7). */
  idempotencyKey?: string;
}

export interface MessageLimits {
  maxChannelLength: number;
  maxEventLength: number;
  maxMessageBytes: number;
  maxBatch: number;
  maxDepth: number;
}

export const defaultMessageLimits: Readonly<MessageLimits> = Object.freeze({
  maxChannelLength: 128,
  maxEventLength: 64,
  maxMessageBytes: 64 * 1024,
  maxBatch: 100,
  maxDepth: 32,
});

export const DEFAULT_EVENT = "message";

// `*` is kept out of channel names: it is the wildcard of channel patterns (API key and JWT scopes).
const CHANNEL_RE = /^[A-Za-z0-9_][A-Za-z0-9_:.@=+-]*$/;
const EVENT_RE = /^[A-Za-z][A-Za-z0-9_:.-]*$/;

/**
 * Names Socket.IO gives a meaning of its own on either side, plus tailcast's protocol events: a
 * message under one of these would be swallowed or misread by clients.
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "error",
  "newListener",
  "removeListener",
  "ping",
  "pong",
  "subscribe",
  "unsubscribe",
  "subscribed",
  "refresh",
  "gap",
  "tailcast:draining",
  SLOW_CONSUMER_EVENT,
  PRESENCE_UPDATE_EVENT,
]);

export function validateChannel(channel: unknown, limits: MessageLimits): string {
  if (typeof channel !== "string" || channel.length === 0) {
    throw new TailcastError(ErrorCode.invalidChannel, "Channel must be a non-empty string.");
  }
  if (channel.length > limits.maxChannelLength) {
    throw new TailcastError(
      ErrorCode.invalidChannel,
      `Channel is longer than ${limits.maxChannelLength} characters.`,
    );
  }
  if (!CHANNEL_RE.test(channel)) {
    throw new TailcastError(
      ErrorCode.invalidChannel,
      "Channel may contain only letters, digits and _ : . @ = + - (and must not start with a symbol other than _).",
    );
  }
  return channel;
}

export function validateEvent(event: unknown, limits: MessageLimits): string {
  if (event === undefined) return DEFAULT_EVENT;
  if (typeof event !== "string" || event.length === 0) {
    throw new TailcastError(ErrorCode.invalidEvent, "Event must be a non-empty string.");
  }
  if (event.length > limits.maxEventLength) {
    throw new TailcastError(
      ErrorCode.invalidEvent,
      `Event is longer than ${limits.maxEventLength} characters.`,
    );
  }
  if (!EVENT_RE.test(event)) {
    throw new TailcastError(
      ErrorCode.invalidEvent,
      "Event must start with a letter and contain only letters, digits and _ : . -",
    );
  }
  if (RESERVED_EVENTS.has(event)) {
    throw new TailcastError(ErrorCode.reservedEvent, `Event name "${event}" is reserved.`);
  }
  return event;
}

/**
 * Nesting depth of a parsed JSON value, and whether it holds a number JSON cannot carry (`1e400`
 * parses to Infinity, which would be stored as null). Iterative, so hostile input cannot blow the stack.
 */
export function measureJson(value: unknown): { depth: number; finite: boolean } {
  let max = 0;
  let finite = true;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v === "number" && !Number.isFinite(v)) finite = false;
    if (v === null || typeof v !== "object") continue;
    if (d > max) max = d;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return { depth: max, finite };
}

export function jsonDepth(value: unknown): number {
  return measureJson(value).depth;
}

/** Validates `{ event?, data }` for `channel`; throws a TailcastError naming the first problem. */
export function validateMessage(channel: unknown, body: unknown, limits: MessageLimits): OutgoingMessage {
  if (!isPlainObject(body)) {
    throw new TailcastError(
      ErrorCode.invalidBody,
      "Message must be a JSON object with `data` and optional `event`.",
    );
  }
  const validChannel = validateChannel(channel, limits);
  const event = validateEvent(body.event, limits);
  if (!Object.hasOwn(body, "data") || body.data === undefined) {
    throw new TailcastError(ErrorCode.missingData, "Message needs a `data` field (any JSON value).");
  }
  const shape = measureJson(body.data);
  if (shape.depth > limits.maxDepth) {
    throw new TailcastError(
      ErrorCode.invalidData,
      `\`data\` is nested deeper than ${limits.maxDepth} levels.`,
    );
  }
  if (!shape.finite) {
    throw new TailcastError(
      ErrorCode.invalidData,
      "`data` holds a number too large for JSON: it would not arrive as sent.",
    );
  }
  const data = JSON.stringify(body.data);
  if (Buffer.byteLength(data) > limits.maxMessageBytes) {
    throw new TailcastError(
      ErrorCode.messageTooLarge,
      `\`data\` is larger than ${limits.maxMessageBytes} bytes once serialized.`,
    );
  }
  if (body.idempotencyKey !== undefined) {
    return {
      channel: validChannel,
      event,
      data,
      idempotencyKey: validateIdempotencyKey(body.idempotencyKey),
    };
  }
  return { channel: validChannel, event, data };
}

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

export function validateIdempotencyKey(key: unknown): string {
  if (typeof key !== "string" || !IDEMPOTENCY_KEY_RE.test(key)) {
    throw new TailcastError(
      ErrorCode.invalidIdempotencyKey,
      "Idempotency keys are 1 to 255 printable ASCII characters without spaces.",
    );
  }
  return key;
}

/** Validates a whole batch before anything is written (README "HTTP"). */
export function validateBatch(body: unknown, limits: MessageLimits): OutgoingMessage[] {
  if (!isPlainObject(body) || !Array.isArray(body.messages)) {
    throw new TailcastError(ErrorCode.invalidBody, "Batch must be a JSON object `{ messages: [...] }`.");
  }
  const { messages } = body;
  if (messages.length === 0) {
    throw new TailcastError(ErrorCode.invalidBody, "Batch `messages` must not be empty.");
  }
  if (messages.length > limits.maxBatch) {
    throw new TailcastError(ErrorCode.batchTooLarge, `Batch has more than ${limits.maxBatch} messages.`);
  }
  const keys = new Set<string>();
  return messages.map((m: unknown, i: number) => {
    try {
      const message = validateMessage(isPlainObject(m) ? m.channel : undefined, m, limits);
      if (message.idempotencyKey !== undefined) {
        if (keys.has(message.idempotencyKey)) {
          throw new TailcastError(
            ErrorCode.invalidIdempotencyKey,
            "the same idempotencyKey appears twice in the batch.",
          );
        }
        keys.add(message.idempotencyKey);
      }
      return message;
    } catch (err) {
      if (err instanceof TailcastError) throw new TailcastError(err.code, `messages[${i}]: ${err.message}`);
      throw err;
    }
  });
}
