# syntax=docker/dockerfile:1
# The ingest function (README "Deploying" → "Containers"). Build from the repository root:
#   docker build -f infra/docker/functions.Dockerfile -t tailcast-functions .

# Build: all dependencies, then the production bundle (`npm run build` → dist/).
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Runtime: the bundle alone. It carries its dependencies, so no node_modules and no npm install.
FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /src/dist/functions ./dist/functions
USER node
EXPOSE 8080
# Liveness only: /readyz (the database answers) is for the load balancer; a database outage must not
# get healthy processes restarted.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/functions/node.mjs"]
