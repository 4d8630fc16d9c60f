-- Key reconciliation of tables without change tracking (package connector,
-- reconcile.go): when a table's keys were last read in full, how many the
-- source had and how many the warehouse held that the source no longer has.
-- A new row supersedes the old one; read it with FINAL. Safe to run twice.
CREATE TABLE IF NOT EXISTS sync_reconcile
(
    environment String,
    table_name String,
    reconciled_at DateTime('UTC'), -- when the key read began: rows stored before it were checked
    source_keys UInt64,            -- keys the source had
    tombstoned UInt64,             -- live rows the source no longer had, tombstoned
    seq UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (environment, table_name);
