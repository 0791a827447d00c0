-- Development layout: a local catalog file (SQLite by default, so other processes can read while the pipeline writes;
-- or a DuckDB file, one process at a time) + local Parquet files.
-- Values come from config (LAKE_CATALOG_PATH, LAKE_DATA_PATH); double-brace names become quoted SQL literals (see src/lake/lake.ts renderSql).
ATTACH {{ducklake_uri}} AS lake (DATA_PATH {{data_path}} {{!encrypted}});
