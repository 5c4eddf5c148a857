/**
 * AWS Lambda entry (API Gateway HTTP API payload 2.0, function URLs; built to dist/functions/lambda.mjs).
 * The runtime — configuration, the MongoClient and the bus setup — lives at module level: made once per
 * instance at init and reused by every warm invocation (the client connects on the first request).
 */
import { handle } from "hono/aws-lambda";
import { lambdaPool } from "./lambda-pool.ts";
import { createIngestRuntime } from "./runtime.ts";

/** Exported for tests and diagnostics; Lambda calls only `handler`. */
export const runtime = createIngestRuntime(process.env, {
  pool: lambdaPool(process.env.MONGODB_URI ?? ""),
});

export const handler = handle(runtime.app);
