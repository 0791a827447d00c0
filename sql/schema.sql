-- The lake's tables (DuckLake has no primary keys: uniqueness of (account, id) is kept by the persist step, which
-- inserts only ids not yet present, inside one transaction per batch that also bumps the account's write_guard row,
-- so two processes persisting one account at once conflict in DuckLake and the later one re-checks: see write_guard).

-- Messages are wide (bodies, headers): small row groups keep the Parquet writer's buffer, and so compaction's memory,
-- bounded (DuckDB's default of 122,880 rows per group would buffer gigabytes).
CALL lake.set_option('parquet_row_group_size', 512);
-- Merged files stop at 128 MB, which bounds what one compaction rewrites.
CALL lake.set_option('target_file_size', '128MB');

-- One row per (account, message id).
CREATE TABLE IF NOT EXISTS lake.messages (
  account VARCHAR NOT NULL,             -- mailbox address
  id VARCHAR NOT NULL,                  -- Gmail message id
  thread_id VARCHAR,
  history_id BIGINT,
  internal_date TIMESTAMP,              -- Gmail internalDate (UTC)
  label_ids VARCHAR[],
  snippet VARCHAR,
  size_estimate BIGINT,
  subject VARCHAR,
  from_address VARCHAR,                 -- lower-cased address of From
  from_name VARCHAR,
  to_addresses VARCHAR[],
  cc_addresses VARCHAR[],
  message_id_header VARCHAR,
  in_reply_to VARCHAR,
  references_header VARCHAR,
  date_header VARCHAR,
  body_text VARCHAR,                    -- first text/plain part, decoded to UTF-8
  body_html VARCHAR,                    -- first text/html part, decoded to UTF-8
  headers STRUCT(name VARCHAR, value VARCHAR)[],
  raw BLOB,                             -- RFC 822 bytes when fetched with format=raw
  format VARCHAR,                       -- minimal | metadata | full | raw
  fetched_at TIMESTAMP,
  parse_error VARCHAR,                  -- NULL when the MIME structure was sound
  extraction_id VARCHAR                 -- workflow id that stored the row
);
-- Mirror columns (added to lakes created before them; NULL on rows stored before them):
-- first_seen_at: when the row entered the lake; deleted_at: when a sync saw the message deleted in Gmail (the row,
-- its raw bytes and attachments are kept); labels_updated_at: when a sync last changed label_ids.
ALTER TABLE lake.messages ADD COLUMN IF NOT EXISTS first_seen_at TIMESTAMP;
ALTER TABLE lake.messages ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMP;
ALTER TABLE lake.messages ADD COLUMN IF NOT EXISTS labels_updated_at TIMESTAMP;
-- raw_sha256: hex SHA-256 of raw (NULL without raw, and on rows stored before it): an import skips a message whose
-- bytes the mailbox already holds under another id.
ALTER TABLE lake.messages ADD COLUMN IF NOT EXISTS raw_sha256 VARCHAR;

-- Attachment metadata (the content stays in Gmail, fetched by attachment_id, unless ATTACHMENTS=content).
CREATE TABLE IF NOT EXISTS lake.attachments (
  account VARCHAR NOT NULL,
  message_id VARCHAR NOT NULL,
  part_id VARCHAR NOT NULL,
  filename VARCHAR,
  mime_type VARCHAR,
  size BIGINT,
  attachment_id VARCHAR,
  content_id VARCHAR,
  disposition VARCHAR
);
-- content_sha256: the hex SHA-256 of the part's decoded bytes, when ATTACHMENTS=content stored them in
-- attachment_contents (NULL otherwise, and on rows stored before it).
ALTER TABLE lake.attachments ADD COLUMN IF NOT EXISTS content_sha256 VARCHAR;

-- Attachments' bytes (ATTACHMENTS=content): one row per mailbox and SHA-256, however many messages carry the file.
CREATE TABLE IF NOT EXISTS lake.attachment_contents (
  account VARCHAR NOT NULL,
  sha256 VARCHAR NOT NULL,
  size BIGINT,
  content BLOB,
  stored_at TIMESTAMP
);

-- Labels of the mailbox as of each extraction start.
CREATE TABLE IF NOT EXISTS lake.labels (
  account VARCHAR NOT NULL,
  id VARCHAR NOT NULL,
  name VARCHAR,
  type VARCHAR,
  fetched_at TIMESTAMP
);

-- Checkpoints: one row per committed batch, written in the batch's own transaction. The latest row of an
-- extraction is where a new POST /extract resumes.
CREATE TABLE IF NOT EXISTS lake.extraction_batches (
  account VARCHAR NOT NULL,
  extraction_key VARCHAR NOT NULL,      -- hash of the request's selection (query, labels, format…)
  workflow_id VARCHAR,
  run_id VARCHAR,
  batch_id VARCHAR,
  page_token VARCHAR,                   -- list page to resume from ('' = first page)
  history_id VARCHAR,                   -- mailbox historyId captured before the backfill started
  listed BIGINT,
  persisted BIGINT,
  skipped BIGINT,
  failed BIGINT,
  inserted BIGINT,                      -- rows this batch added (0 when it was a re-run)
  committed_at TIMESTAMP
);

-- Quarantine: messages Gmail kept refusing (400 or 5xx for that message, through every request retry of
-- GMAIL_QUARANTINE_AFTER batch attempts) while the rest of their batch committed. Written in the batch's own
-- transaction; a later run, sync or POST /mailboxes/{account}/retry-failed fetches them again, and the row goes in
-- the transaction that stores the message. Listed = stored + failed + skipped (gone from Gmail).
CREATE TABLE IF NOT EXISTS lake.failed_messages (
  account VARCHAR NOT NULL,
  id VARCHAR NOT NULL,                  -- Gmail message id
  format VARCHAR,                       -- the format it was asked in
  first_failed_at TIMESTAMP,
  last_failed_at TIMESTAMP,
  attempts BIGINT,                      -- batch attempts that failed on it, over every run
  status INTEGER,                       -- Gmail's HTTP status (400, 500…)
  reason VARCHAR                        -- Gmail's answer, e.g. 'HTTP 400: Precondition check failed.'
);

-- Run records: started / completed / failed / canceled, per workflow run.
CREATE TABLE IF NOT EXISTS lake.extraction_runs (
  account VARCHAR NOT NULL,
  extraction_key VARCHAR NOT NULL,
  workflow_id VARCHAR,
  run_id VARCHAR,
  event VARCHAR,
  detail VARCHAR,
  event_at TIMESTAMP
);

-- One row per account, bumped by every transaction that adds messages of that account. DuckLake detects two
-- concurrent transactions changing this row and lets only the first commit; the other is retried, re-reads which ids
-- are stored and inserts only the rest. This is what keeps (account, id) unique across processes and hosts.
CREATE TABLE IF NOT EXISTS lake.write_guard (
  account VARCHAR NOT NULL,
  seq BIGINT                            -- number of batches committed for the account
);

-- Every change a sync applied, one row per message per history record (or per difference a reconciliation found):
-- kind is added | deleted | labels_added | labels_removed; label_ids is the message's labels after the change.
CREATE TABLE IF NOT EXISTS lake.message_changes (
  account VARCHAR NOT NULL,
  message_id VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  labels_added VARCHAR[],
  labels_removed VARCHAR[],
  label_ids VARCHAR[],
  history_id BIGINT,                    -- the Gmail history record (reconciliation: the profile's historyId)
  source VARCHAR,                       -- history | reconcile
  sync_id VARCHAR,                      -- workflow run that applied it
  applied_at TIMESTAMP
);

-- One row per mirrored mailbox: the historyId every change up to which is in the lake. Written in the same
-- transaction as the changes it covers, so a crash never skips or applies twice.
CREATE TABLE IF NOT EXISTS lake.mailbox_state (
  account VARCHAR NOT NULL,
  history_id BIGINT,
  format VARCHAR,                       -- format new messages are fetched in
  source VARCHAR,                       -- backfill | history | reconcile: what set history_id last
  updated_at TIMESTAMP
);

-- One row per finished sync run: what it applied and the quota units it spent, per method (JSON).
CREATE TABLE IF NOT EXISTS lake.sync_runs (
  account VARCHAR NOT NULL,
  workflow_id VARCHAR,
  run_id VARCHAR,
  mode VARCHAR,                         -- history | reconcile
  status VARCHAR,                       -- completed | failed | canceled | deferred
  history_id_from BIGINT,
  history_id_to BIGINT,
  added BIGINT,
  deleted BIGINT,
  labels_changed BIGINT,
  units VARCHAR,                        -- {"history": 4, "get": 1500, ...}
  detail VARCHAR,
  started_at TIMESTAMP,
  finished_at TIMESTAMP
);

-- The mailboxes of each fleet, in the order it extracts them (written once, as it is planned): the fleet's workflow
-- reads them a page at a time, so a domain of any size never travels in one Temporal payload.
CREATE TABLE IF NOT EXISTS lake.fleet_mailboxes (
  fleet VARCHAR NOT NULL,               -- the fleet's workflow id and its first run's id: "<workflow id>/<run id>"
  seq INTEGER,                          -- 0, 1, … : the order of extraction (NOT NULL only on VARCHARs: see primeStatistics)
  account VARCHAR NOT NULL
);

-- Each mailbox's Gmail watch (push notifications to a Pub/Sub topic): renewed by its syncs a day after the last call.
CREATE TABLE IF NOT EXISTS lake.mailbox_watch (
  account VARCHAR NOT NULL,
  topic VARCHAR NOT NULL,
  history_id BIGINT,                    -- the mailbox's historyId when the watch was (re)made
  expires_at TIMESTAMP,                 -- Gmail's expiration: 7 days after the call
  renewed_at TIMESTAMP
);
