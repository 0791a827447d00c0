-- The mailbox as the lake mirrored it at a point in time: its messages and their labels at $at.
-- Parameters: $account (the address) and $at (a timestamp, UTC, e.g. '2026-11-20 00:00:00'). Reads messages and
-- message_changes only, so it reaches back to the first sync however old (DuckLake time travel,
-- `lake.messages AT (TIMESTAMP => …)`, reaches back LAKE_SNAPSHOT_RETENTION_DAYS). Times are when the pipeline applied a
-- change: Gmail's history carries no timestamps.
WITH c AS (SELECT * FROM lake.message_changes WHERE account = $account),
point AS (SELECT CAST($at AS TIMESTAMP) AS t)
SELECT
  m.id,
  m.thread_id,
  m.subject,
  coalesce(
    -- the labels after the last change applied by then
    (SELECT c.label_ids FROM c, point WHERE c.message_id = m.id AND c.applied_at <= point.t
     ORDER BY c.applied_at DESC, c.history_id DESC LIMIT 1),
    -- else the labels before the first later change (undo what its record added, restore what it removed)
    (SELECT list_filter(list_distinct(list_concat(any_value(c.label_ids), flatten(list(c.labels_removed)))),
                        x -> NOT list_contains(flatten(list(c.labels_added)), x))
     FROM c WHERE c.message_id = m.id AND c.kind <> 'added'
     GROUP BY c.applied_at, c.history_id ORDER BY c.applied_at, c.history_id LIMIT 1),
    -- else no change since: today's labels
    m.label_ids
  ) AS label_ids
FROM lake.messages m, point
WHERE m.account = $account
  AND coalesce(m.first_seen_at, m.fetched_at) <= point.t
  AND (m.deleted_at IS NULL OR m.deleted_at > point.t)
