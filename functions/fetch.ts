/** Fetch-style entry for runtimes that import a default `{ fetch }` and can run the MongoDB driver. */
import { createIngestRuntime } from "./runtime.ts";

export default { fetch: createIngestRuntime().app.fetch };
