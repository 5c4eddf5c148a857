/** JSON bodies only, size-limited before parsing: 415, 413 and 400 with the standard error shape. */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ErrorCode, TailcastError } from "../../shared/errors.ts";

export function jsonBody(options: { maxBytes: number }): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: options.maxBytes,
    onError: () => {
      throw new TailcastError(
        ErrorCode.bodyTooLarge,
        `Request body is larger than ${options.maxBytes} bytes.`,
      );
    },
  });
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
      throw new TailcastError(
        ErrorCode.unsupportedMediaType,
        "Send the body as JSON with Content-Type: application/json.",
      );
    }
    return limit(c, next);
  };
}

/** The parsed body; call only behind `jsonBody`. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TailcastError(ErrorCode.invalidJson, "Request body is not valid JSON.");
  }
}
