/** What middleware hands to routes through the Hono context. */
import type { Logger } from "../shared/log.ts";
import type { Caller } from "./middleware/auth.ts";

export interface IngestEnv {
  Variables: {
    /** Who is calling: the API key's id, "jwt:<sub>", or "anonymous" with auth off. Scopes idempotency keys. */
    publisherId: string;
    /** What the credential allows; null with auth off. */
    caller: Caller;
    /** X-Request-Id of this request, given or made (middleware/request-log.ts). */
    requestId: string;
    /** The app's logger with this request's `requestId` bound. */
    log: Logger;
  };
}
