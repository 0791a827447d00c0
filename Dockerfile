# The pipeline image (API, worker, or both: npm run api | worker | start). Extensions come from DuckDB's repository at build time (internet required).
FROM node:20.20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY sql ./sql
COPY scripts/install-extensions.mjs ./scripts/
ENV DUCKDB_EXTENSION_DIR=/app/.tools/duckdb-extensions
RUN node scripts/install-extensions.mjs ducklake postgres_scanner httpfs sqlite_scanner aws
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "src/main.ts"]
