-- The KPI engine's tables (package kpis). Every statement is safe to run twice.

-- One row per KPI run: when, as of when, over which definitions and inputs,
-- and how it ended.
CREATE TABLE IF NOT EXISTS kpi_runs
(
    run_id String,
    started_at DateTime('UTC'),
    finished_at DateTime('UTC'),
    as_of DateTime('UTC'),   -- the moment "now" stood for in the definitions
    timezone String,         -- periods are cut in this zone
    kpis UInt32,             -- definitions run
    results UInt32,          -- rows written to kpi_results
    failed UInt32,           -- definitions that failed (named in error)
    skipped UInt32,          -- definitions left out: required inputs missing (named in note)
    red UInt32,
    amber UInt32,
    green UInt32,
    inputs_file String,
    inputs_checksum String,  -- sha256 of the inputs file ('' without one)
    status String,           -- ok, failed
    error String,
    note String
)
ENGINE = MergeTree
ORDER BY started_at;

-- Every result of every run, kept. A ratio keeps numerator and denominator
-- so Power BI can re-aggregate over dimensions; value is NULL (status none)
-- when the denominator is zero or below the definition's minimum.
CREATE TABLE IF NOT EXISTS kpi_results
(
    run_id String,
    computed_at DateTime('UTC'),
    kpi_id String,
    version UInt32,
    checksum String,          -- sha256 of the definition file
    draft UInt8,              -- 1: the definition version is not released
    environment String,
    period_start DateTime('UTC'),
    period_end DateTime('UTC'),
    dimensions String,        -- readable: table=lead, field=emailaddress1
    dim_names Array(String),
    dim_values Array(String),
    value Nullable(Float64),
    numerator Nullable(Float64),
    denominator Nullable(Float64),
    unit String,
    status String,            -- green, amber, red, none
    sync_runs Array(String)   -- the sync runs that last loaded the source tables
)
ENGINE = MergeTree
ORDER BY (kpi_id, environment, computed_at);

-- The definitions as they were run (one row per id, version and checksum).
CREATE TABLE IF NOT EXISTS kpi_definitions
(
    kpi_id String,
    version UInt32,
    checksum String,
    released UInt8,
    title String,
    description String,
    owner String,
    level String,
    phase String,
    type String,
    unit String,
    direction String,
    green String,
    amber String,
    min_denominator Float64,
    grain String,
    dimensions Array(String),
    sources Array(String),
    inputs Array(String),
    source String,
    path String,
    loaded_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (kpi_id, version, checksum);

-- The inputs file, loaded on every KPI run (run_id says which load).
CREATE TABLE IF NOT EXISTS kpi_input_environments
(
    run_id String,
    environment String,
    go_live Nullable(Date),
    licensed_users Nullable(UInt32),
    gross_margin Nullable(Float64),
    tco_years Nullable(UInt32)
)
ENGINE = MergeTree
ORDER BY (run_id, environment);

-- Costs and benefits per month (kind cost or benefit).
CREATE TABLE IF NOT EXISTS kpi_input_money
(
    run_id String,
    environment String,
    kind String,
    month Date,
    category String,
    amount Float64
)
ENGINE = MergeTree
ORDER BY (run_id, environment, kind, month);

-- Survey results: kind nps (promoters, passives, detractors) or ues
-- (responses and their average score).
CREATE TABLE IF NOT EXISTS kpi_input_surveys
(
    run_id String,
    environment String,
    kind String,
    taken_on Date,
    responses UInt32,
    promoters UInt32,
    passives UInt32,
    detractors UInt32,
    average Float64
)
ENGINE = MergeTree
ORDER BY (run_id, environment, kind, taken_on);

-- Key users planned for training, and when each was trained.
CREATE TABLE IF NOT EXISTS kpi_input_key_users
(
    run_id String,
    environment String,
    name String,
    trained_on Nullable(Date)
)
ENGINE = MergeTree
ORDER BY (run_id, environment, name);

-- Data migration: rows migrated and rejected per object.
CREATE TABLE IF NOT EXISTS kpi_input_migration
(
    run_id String,
    environment String,
    object String,
    migrated UInt64,
    rejected UInt64
)
ENGINE = MergeTree
ORDER BY (run_id, environment, object);

-- Project milestones: due and done dates.
CREATE TABLE IF NOT EXISTS kpi_input_milestones
(
    run_id String,
    environment String,
    name String,
    due Date,
    done Nullable(Date)
)
ENGINE = MergeTree
ORDER BY (run_id, environment, name);

-- Partners: onboarding, certification and first deal.
CREATE TABLE IF NOT EXISTS kpi_input_partners
(
    run_id String,
    environment String,
    name String,
    onboarding_started Nullable(Date),
    onboarding_completed Nullable(Date),
    certified Nullable(Date),
    first_deal Nullable(Date)
)
ENGINE = MergeTree
ORDER BY (run_id, environment, name)
