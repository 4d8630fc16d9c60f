-- The sync's metadata cache (package connector): each table's definition as
-- Dataverse described it at a global metadata version, so that a new process
-- (a one-shot ampel sync) starts warm: while the version stays the same, one
-- request confirms it instead of a metadata read per table. A schema change
-- in Dataverse changes the version and the definitions are read and stored
-- again. Safe to run twice.
CREATE TABLE IF NOT EXISTS metadata_cache
(
    environment String,
    url String,               -- the environment's origin the definition came from
    table_name String,
    metadata_version String,  -- Dataverse's global metadata version at the read
    format UInt32,            -- the layout of definition; rows of another are ignored
    definition String,        -- the table's definition as JSON
    cached_at DateTime('UTC'),
    seq UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (environment, table_name);
