# The pipeline image (API, worker, or both: node dist/api/main.js | dist/worker/main.js | dist/main.js), compiled
# JavaScript on the Node.js LTS. Extensions come from DuckDB's repository at build time (internet required).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# TypeScript to dist/, and the workflow bundles (dist/workflow-bundles): workers start without webpack.
RUN npm run build

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY sql ./sql
COPY scripts/install-extensions.mjs ./scripts/
ENV DUCKDB_EXTENSION_DIR=/app/.tools/duckdb-extensions
RUN node scripts/install-extensions.mjs ducklake postgres_scanner httpfs sqlite_scanner aws
USER node
EXPOSE 3000
CMD ["node", "dist/main.js"]
