-- One row per table per sync run: what it did and how it ended.
CREATE TABLE IF NOT EXISTS sync_runs
(
    run_id String,
    environment String,
    table_name String,
    mode String,             -- full, delta, watermark, reload
    started_at DateTime('UTC'),
    finished_at DateTime('UTC'),
    rows_upserted UInt64,
    rows_deleted UInt64,
    pages UInt32,
    requests UInt32,
    throttled UInt32,
    retries UInt32,
    bytes UInt64,
    duration_ms UInt64,
    status String,           -- ok, failed, canceled
    error String,
    note String              -- e.g. "deletes cannot be seen: change tracking is off"
)
ENGINE = MergeTree
ORDER BY (environment, table_name, started_at);

-- Where each table's sync stands: the delta link or watermark to go on
-- from. A new row supersedes the old one; read it with FINAL.
CREATE TABLE IF NOT EXISTS sync_state
(
    environment String,
    table_name String,
    mode String,             -- delta or watermark
    delta_link String,
    watermark DateTime('UTC'),
    columns Array(String),   -- the $select the delta link was made for
    updated_at DateTime('UTC'),
    seq UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (environment, table_name);

-- Columns added to landing tables after their creation, and type changes
-- that stopped a table.
CREATE TABLE IF NOT EXISTS schema_changes
(
    changed_at DateTime('UTC'),
    environment String,
    table_name String,
    column_name String,
    change String,           -- added, type_changed
    old_type String,
    new_type String
)
ENGINE = MergeTree
ORDER BY (table_name, changed_at);
