-- A data steward's marks on duplicate groups and pairs (and later on findings): who marked
-- what, when, why. The latest mark per target counts; a not_a_duplicate mark keeps every
-- pair of the records it covers out of any duplicate group from then on.
CREATE TABLE IF NOT EXISTS dq_reviews
(
    reviewed_at DateTime('UTC'),
    environment String,
    table_name String,
    target_kind String,      -- group or pair
    target_id String,        -- a group's id, or pair:<id>|<id> (ids sorted)
    members Array(String),   -- the record ids the mark covers
    mark String,             -- reviewed, not_a_duplicate, will_fix
    comment String,
    reviewer String
)
ENGINE = MergeTree
ORDER BY (environment, table_name, target_id, reviewed_at);
