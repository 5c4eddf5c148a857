/**
 * The long-running ingest process's fleet heartbeat (shared/fleet/heartbeat.ts): open HTTP connections
 * and the last request it answered with a server error. Serverless entries (functions/lambda.ts,
 * functions/fetch.ts) have no lasting process to report and do not use it.
 */

import type { Server } from "node:http";
import { serverClock } from "../shared/bus/server-clock.ts";
import type { IngestConfig } from "../shared/config.ts";
import { advertisedUrl, type Heartbeat, startHeartbeat } from "../shared/fleet/heartbeat.ts";
import { ensureNodes, type NodeReport, NodeRole } from "../shared/fleet/nodes.ts";
import type { Logger } from "../shared/log.ts";
import type { MongoHandle } from "../shared/mongo.ts";

/** A fetch-style handler; what the server passes after the request (its bindings) is handed on untouched. */
type Fetch = (request: Request, ...rest: never[]) => Response | Promise<Response>;

/** `fetch`, remembering the last request it answered with a 5xx (what an operator looks at first). */
export function recordingServerErrors(fetch: Fetch): { fetch: Fetch; lastError(): NodeReport["lastError"] } {
  let last: NodeReport["lastError"] = null;
  return {
    fetch: async (request, ...rest) => {
      const response = await fetch(request, ...rest);
      if (response.status >= 500) {
        last = {
          message: `${response.status} on ${request.method} ${new URL(request.url).pathname}`,
          at: new Date(),
        };
      }
      return response;
    },
    lastError: () => last,
  };
}

export interface IngestHeartbeatDeps {
  config: IngestConfig;
  mongo: MongoHandle;
  server: Server;
  /** The port it listens on: the URL it advertises. */
  port: number;
  lastError: () => NodeReport["lastError"];
  log: Logger;
}

export function startIngestHeartbeat(deps: IngestHeartbeatDeps): Heartbeat {
  const { config, mongo, server } = deps;
  const clock = serverClock(() => mongo.db());
  const nodes = mongo.cached((db) => ensureNodes(db, config.bus.collection, deps.log));
  const connections = () =>
    new Promise<number>((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)));
  return startHeartbeat(
    {
      // The name its log lines carry: TAILCAST_NODE_ID, else `functions-<host>-<port>` (shared/config.ts).
      nodeId: config.nodeId,
      role: NodeRole.functions,
      url: advertisedUrl(config.host, deps.port),
      intervalMs: config.heartbeatMs,
    },
    {
      nodes,
      now: () => clock.now(),
      report: async () => ({
        connections: await connections(),
        subscriptions: null,
        live: null,
        position: null,
        lag: null,
        gaps: null,
        missed: null,
        publishRate: null,
        delivery: null,
        lastError: deps.lastError(),
      }),
      log: deps.log,
    },
  );
}
