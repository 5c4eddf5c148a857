/**
 * Connection-pool settings for the AWS Lambda entry (README "Deploying" → "AWS Lambda"). An instance
 * serves one request at a time and is frozen between them, so:
 * - a small pool: one request runs a handful of operations at once (bus setup, the insert, an
 *   idempotency claim), and every concurrent instance holds its own pool against the server's limit;
 * - no minimum: nothing is opened ahead of need;
 * - idle connections closed after a minute, before NAT gateways, load balancers or the server drop
 *   them silently while the instance is frozen (the next request would otherwise meet a dead socket).
 * Any of them set in MONGODB_URI's options wins.
 */
import type { PoolOptions } from "../shared/mongo.ts";

export const LAMBDA_POOL = {
  maxPoolSize: 5,
  minPoolSize: 0,
  maxIdleTimeMS: 60_000,
} as const satisfies PoolOptions;

/** LAMBDA_POOL without the settings the connection string already names (option names are case-insensitive). */
export function lambdaPool(uri: string): PoolOptions {
  const query = uri.includes("?") ? uri.slice(uri.indexOf("?") + 1) : "";
  const named = new Set(
    query
      .split("&")
      .map((pair) => (pair.split("=")[0] ?? "").toLowerCase())
      .filter(Boolean),
  );
  return Object.fromEntries(
    Object.entries(LAMBDA_POOL).filter(([name]) => !named.has(name.toLowerCase())),
  ) as PoolOptions;
}
