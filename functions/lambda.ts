/** AWS Lambda entry (API Gateway / function URL). */
import { handle } from "hono/aws-lambda";
import { createIngestRuntime } from "./runtime.ts";

export const handler = handle(createIngestRuntime().app);
