/**
 * Typed errors with frozen, stable codes (README "HTTP", "Socket.IO", "WebSocket"). Clients and
 * tests branch on `code`, never on `message`; HTTP status and Retry-After travel with the error so
 * every edge (HTTP, Socket.IO, /ws) renders it the same way.
 */
export const ErrorCode = Object.freeze({
  invalidJson: "invalid_json",
  invalidBody: "invalid_body",
  invalidChannel: "invalid_channel",
  invalidEvent: "invalid_event",
  reservedEvent: "reserved_event",
  missingData: "missing_data",
  invalidData: "invalid_data",
  invalidQuery: "invalid_query",
  messageTooLarge: "message_too_large",
  bodyTooLarge: "body_too_large",
  headersTooLarge: "headers_too_large",
  batchTooLarge: "batch_too_large",
  unsupportedMediaType: "unsupported_media_type",
  notFound: "not_found",
  methodNotAllowed: "method_not_allowed",
  unauthorized: "unauthorized",
  tokenExpired: "token_expired",
  forbidden: "forbidden",
  rateLimited: "rate_limited",
  busUnavailable: "bus_unavailable",
  nodeDraining: "node_draining",
  busNotCapped: "bus_not_capped",
  invalidConfig: "invalid_config",
  invalidRequest: "invalid_request",
  invalidIdempotencyKey: "invalid_idempotency_key",
  idempotencyKeyReused: "idempotency_key_reused",
  idempotencyInProgress: "idempotency_in_progress",
  slowConsumer: "slow_consumer",
  internal: "internal_error",
} as const);

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const statusOf: Readonly<Record<ErrorCode, number>> = Object.freeze({
  invalid_json: 400,
  invalid_body: 400,
  invalid_channel: 400,
  invalid_event: 400,
  reserved_event: 400,
  missing_data: 400,
  invalid_data: 400,
  invalid_query: 400,
  message_too_large: 413,
  body_too_large: 413,
  headers_too_large: 431,
  batch_too_large: 413,
  unsupported_media_type: 415,
  not_found: 404,
  method_not_allowed: 405,
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  rate_limited: 429,
  bus_unavailable: 503,
  node_draining: 503,
  bus_not_capped: 500,
  invalid_config: 500,
  invalid_request: 400,
  invalid_idempotency_key: 400,
  idempotency_key_reused: 422,
  idempotency_in_progress: 409,
  // A connection signal, never an HTTP answer (tailer/slow-consumer.ts); 503 if one ever is.
  slow_consumer: 503,
  internal_error: 500,
});

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export class TailcastError extends Error {
  override readonly name = "TailcastError";
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds a client should wait before retrying (503, 429). */
  readonly retryAfter: number | undefined;
  /**
   * Why, more finely than `code`, for operators only (the 503 cause in functions/metrics.ts); never
   * sent to clients. A short snake_case word from a fixed set, so it can be a metric label.
   */
  readonly reason: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfter?: number; reason?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = statusOf[code];
    this.retryAfter = options?.retryAfter;
    this.reason = options?.reason;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isTailcastError(err: unknown): err is TailcastError {
  return err instanceof TailcastError;
}

/**
 * The wire shape for anything thrown — the one place an error becomes `{ error: { code, message } }`
 * (HTTP bodies, Socket.IO acks, /ws frames): known errors keep their code, the rest never leak details.
 */
export function toErrorBody(err: unknown): {
  status: number;
  body: ErrorBody;
  retryAfter: number | undefined;
} {
  if (isTailcastError(err)) return { status: err.status, body: err.toBody(), retryAfter: err.retryAfter };
  return {
    status: 500,
    body: { error: { code: ErrorCode.internal, message: "Internal error." } },
    retryAfter: undefined,
  };
}

/** Just the `{ error: { code, message } }` of `toErrorBody`. */
export function errorBody(err: unknown): ErrorBody {
  return toErrorBody(err).body;
}
