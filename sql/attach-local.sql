-- Development layout: a local catalog file (SQLite by default, so other processes can read while the pipeline writes;
-- or a DuckDB file, one process at a time) + local Parquet files.
-- Values come from config (LAKE_CATALOG_PATH, LAKE_DATA_PATH); double-brace names become quoted SQL literals (see src/lake/lake.ts renderSql).
-- A SQLite catalog is kept in WAL mode (journal: META_JOURNAL_MODE 'WAL' for it, nothing for a DuckDB file; WAL is
-- persistent, so an older lake is converted by the first writer that opens it): in SQLite's default rollback journal a
-- reader and a writer each hold a lock the other waits for when DuckLake reads the catalog on two SQLite connections
-- in one transaction, and each waits out SQLite's 5 s busy timeout, again and again — a read-only instance (run_sql's
-- sandbox, `gmail-lake query`) beside a worker stalled its commits completely. In WAL readers never block the writer.
ATTACH {{ducklake_uri}} AS lake (DATA_PATH {{data_path}} {{!encrypted}} {{!journal}});
