#!/bin/sh
# Creates the lake catalog database and its role in the production PostgreSQL (docker-compose init hook).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE lake LOGIN PASSWORD '${LAKE_DB_PASSWORD}';
CREATE DATABASE lake OWNER lake;
SQL
