-- The ranges of a large table's first load read at once (package
-- connector, ranges.go): per load generation and range, its createdon
-- filter, the link of its next page once every row before it is stored,
-- and whether it is done. A load killed part way goes on from here in its
-- generation; rows of older generations are of loads that ended. A new
-- row supersedes the old one; read it with FINAL. Safe to run twice.
CREATE TABLE IF NOT EXISTS sync_ranges
(
    environment String,
    table_name String,
    generation UInt32,
    range_no UInt16,
    filter String,     -- the range's $filter on createdon ('' for the whole table)
    next_link String,  -- where the range goes on ('' before its first checkpoint)
    done UInt8,        -- every row of the range is stored
    updated_at DateTime('UTC'),
    seq UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (environment, table_name, generation, range_no);
