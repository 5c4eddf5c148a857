/** What middleware hands to routes through the Hono context. */
export interface IngestEnv {
  Variables: {
    /** Who is publishing: the API key's id, or "anonymous" with auth off. Scopes idempotency keys. */
    publisherId: string;
  };
}
