-- Development layout: DuckDB-file catalog + local Parquet files (one writer process at a time).
-- Values come from config (LAKE_CATALOG_PATH, LAKE_DATA_PATH); double-brace names become quoted SQL literals (see src/lake/lake.ts renderSql).
ATTACH {{ducklake_uri}} AS lake (DATA_PATH {{data_path}} {{!encrypted}});
