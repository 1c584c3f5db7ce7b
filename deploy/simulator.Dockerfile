# The gateway simulator (load/simulate.ts on the gateway library, gateway/), run through tsx.
# Used by docker-compose.e2e.yml: `init` creates the gateways, then the fleet runs.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY schema ./schema
COPY gateway ./gateway
COPY src ./src
COPY scripts ./scripts
COPY load ./load
RUN mkdir -p /var/lib/machpay-sim && chown node:node /var/lib/machpay-sim
USER node
ENTRYPOINT ["node", "--import", "tsx", "load/simulate.ts"]
