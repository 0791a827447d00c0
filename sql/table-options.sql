-- Options of the lake's tables, persisted in the catalog and set again by every writer that opens it (idempotent).
-- Run after the statistics primer (lake.ts): with inlining off, its insert-and-delete leaves no statistics row.
-- A message row carries its raw bytes (up to ~35 MB): DuckLake 1.0 would inline an insert of up to 10 rows into the
-- catalog database itself (a sync's few messages, a slice of large ones); messages always go to data files. Persisted
-- in the catalog (set again on every open: idempotent); attachments and the small tables keep inlining.
CALL lake.set_option('data_inlining_row_limit', 0, table_name => 'messages');
-- Row groups of messages end at 16 MB (not at DuckDB's 122,880 rows, which for mail is gigabytes): writing a batch, or
-- merging files, holds one row group in memory.
CALL lake.set_option('parquet_row_group_size_bytes', '16MB', table_name => 'messages');
-- An attachment's bytes (up to ~25 MB): to data files, never inlined into the catalog; row groups of 16 MB, as messages.
CALL lake.set_option('data_inlining_row_limit', 0, table_name => 'attachment_contents');
CALL lake.set_option('parquet_row_group_size_bytes', '16MB', table_name => 'attachment_contents');
