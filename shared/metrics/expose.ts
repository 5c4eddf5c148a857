/**
 * /metrics on a port of its own (TAILCAST_METRICS_PORT), so the main port — public, behind the load
 * balancer — need not expose it at all. Without it, each component mounts metricsRoutes on its app.
 */
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { MetricsConfig } from "../config.ts";
import { createHttpServer } from "../http-server.ts";
import { metricsRoutes } from "./route.ts";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** The separate metrics listener, when configured; null when /metrics is on the main port. */
export async function startMetricsServer(
  registry: Registry,
  config: MetricsConfig,
  host: string,
): Promise<MetricsServer | null> {
  if (config.port === undefined) return null;
  const server: Server = createHttpServer(metricsRoutes(registry, config.token).fetch);
  server.listen(config.port, host);
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
