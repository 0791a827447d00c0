-- Production layout: PostgreSQL catalog (many writers) + data files on S3 (or a shared folder), encrypted.
-- The libpq DSN comes from LAKE_PG_DSN; S3 credentials from the secret created by s3-secret.sql.
ATTACH {{ducklake_uri}} AS lake (DATA_PATH {{data_path}} {{!encrypted}});
