# The server runs as one bundle (scripts/build.ts → dist/main.mjs); the CLI runs through tsx.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY schema ./schema
COPY src ./src
COPY scripts ./scripts
COPY migrations ./migrations
RUN npm run build --silent
# /app stays root-owned (read-only to the runtime user). The only writable places are the data
# directory (development JWT secret, embedded PostgreSQL when no DATABASE_URL) and the journal,
# created here and owned by `node`, so a named volume mounted on them starts with that owner.
RUN mkdir -p /var/lib/machpay/data /var/lib/machpay/journal \
 && chown -R node:node /var/lib/machpay
ENV NODE_ENV=production PORT=8080 DATA_DIR=/var/lib/machpay/data JOURNAL_DIR=/var/lib/machpay/journal
VOLUME ["/var/lib/machpay/data", "/var/lib/machpay/journal"]
EXPOSE 8080
USER node
CMD ["node", "--enable-source-maps", "dist/main.mjs"]
