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
ENV NODE_ENV=production PORT=8080
EXPOSE 8080
USER node
CMD ["node", "--enable-source-maps", "dist/main.mjs"]
