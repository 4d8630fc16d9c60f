-- The data-quality audit's runs and findings (package audit). Every statement is safe to
-- run twice.

-- One row per audit run: when, as of when, and how it ended.
CREATE TABLE IF NOT EXISTS dq_runs
(
    run_id String,
    seq UInt64,              -- run order (nanoseconds): later runs have higher numbers
    started_at DateTime('UTC'),
    finished_at DateTime('UTC'),
    as_of DateTime('UTC'),   -- the moment "now" stood for in the rules
    rules UInt32,            -- rules run
    failed UInt32,           -- rules that failed (named in error)
    skipped UInt32,          -- rules left out: their table is not synced (named in note)
    findings UInt64,         -- open findings after the run
    new_findings UInt64,     -- open now, not open before
    resolved UInt64,         -- open before, gone now
    status String,           -- ok, failed
    error String,
    note String
)
ENGINE = MergeTree
ORDER BY seq;

-- Per run, rule, table and environment: what the rule looked at and found. The trend of
-- `ampel audit` and the duplicate_density KPI (v2) read it.
CREATE TABLE IF NOT EXISTS dq_run_rules
(
    run_id String,
    seq UInt64,              -- the run's seq
    computed_at DateTime('UTC'),
    environment String,
    rule_id String,
    version UInt32,
    checksum String,         -- sha256 of the rule file
    draft UInt8,             -- 1: the rule version is not released
    kind String,             -- duplicate_rule, duplicate_model, sql
    severity String,         -- error, warning, info
    table_name String,
    checked UInt64,          -- records the rule looked at (duplicate rules: eligible records)
    findings UInt64,         -- open findings
    new_findings UInt64,
    resolved UInt64,
    groups UInt64,           -- duplicate groups
    excess UInt64            -- records in duplicate groups minus one per group
)
ENGINE = MergeTree
ORDER BY (rule_id, environment, table_name, computed_at);

-- The findings. Each run writes a row for every open finding (last_seen moves on) and for
-- every finding that was open and is gone (status resolved); the row with the highest seq
-- of a finding_id is its state, which dq_findings_current shows. A finding's id is stable
-- across runs: a hash of rule id, rule version, environment, table, record id and field.
CREATE TABLE IF NOT EXISTS dq_findings
(
    finding_id String,
    seq UInt64,              -- run order: the newest row of a finding wins
    run_id String,           -- the run that wrote this row
    environment String,
    rule_id String,
    rule_version UInt32,
    severity String,
    kind String,
    table_name String,
    record_id String,
    field String,            -- the field it is about ('' for the whole record)
    field_values String,     -- the values that triggered it, a JSON object
    detail String,           -- what is wrong, in words
    group_id String,         -- duplicate rules: the group's id (a hash of its members)
    supersedes String,       -- the group the record was in before, when it changed
    link String,             -- <org url>/main.aspx?etn=<table>&id=<guid>&pagetype=entityrecord
    status String,           -- open, resolved
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    resolved_at Nullable(DateTime('UTC')), -- NULL while open
    review_mark String,      -- reviewed, not_a_duplicate, will_fix ('' without a mark)
    review_comment String,
    reviewed_by String,
    reviewed_at Nullable(DateTime('UTC'))
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (environment, rule_id, table_name, finding_id);

-- Each finding once, in its latest state.
CREATE VIEW IF NOT EXISTS dq_findings_current AS
SELECT * FROM dq_findings FINAL;
