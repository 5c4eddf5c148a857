# syntax=docker/dockerfile:1
# A tailer node (README "Deploying" → "Containers"). Build from the repository root:
#   docker build -f infra/docker/tailer.Dockerfile -t tailcast-tailer .

# Build: all dependencies, then the production bundle (`npm run build` → dist/).
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Runtime: the bundle and its page assets alone. It carries its dependencies, so no node_modules.
FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8081
WORKDIR /app
COPY --from=build --chown=node:node /src/dist/tailer ./dist/tailer
USER node
EXPOSE 8081
# Liveness only: /readyz (a live cursor on the bus, not draining) is for the load balancer; a database
# outage must not get healthy nodes restarted, and their clients with them.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) starts the drain: clients are told to move, then the process exits before
# TAILCAST_DRAIN_TIMEOUT_MS. Give it that long: `docker stop -t 35`, compose `stop_grace_period`.
STOPSIGNAL SIGTERM
CMD ["node", "dist/tailer/main.mjs"]
