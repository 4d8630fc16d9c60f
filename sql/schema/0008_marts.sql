-- The BI marts' snapshot pointer (package marts). Every statement is safe to run twice.

-- One row per published snapshot of the marts. The public views (bi_<mart>) show the
-- snapshot with the highest number here: one INSERT publishes every mart at once, so a
-- reader sees the marts before a sync or after it, never half of it. The mart tables
-- (mart_<name>, one partition per snapshot) are created by package marts from sql/marts.
CREATE TABLE IF NOT EXISTS mart_snapshots
(
    snapshot UInt64,          -- the snapshot's number: later snapshots have higher numbers
    published_at DateTime('UTC'),
    reason String,            -- what published it: run, demo, kpi run, audit, publish
    marts UInt32,             -- marts built
    rows UInt64,              -- rows in all marts of the snapshot
    took_ms UInt64            -- building and publishing
)
ENGINE = MergeTree
ORDER BY snapshot;
