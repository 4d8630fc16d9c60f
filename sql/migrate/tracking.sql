{{/* The record of applied migrations: one row per migration, written
once it has applied. Read with .Dialect like every template, so that a
cluster (ON CLUSTER, a Replicated engine) changes this file only. */ -}}
CREATE TABLE IF NOT EXISTS {{ident .Table}}
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC'),
    duration_ms UInt64
)
ENGINE = MergeTree
ORDER BY version
