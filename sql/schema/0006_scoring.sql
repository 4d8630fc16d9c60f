-- Lead scoring's tables and its current-score view (package kpis/scoring).
-- Every statement is safe to run twice.

-- One row per scoring run and model version: what it scored, the backtest
-- window it judged the model on, and how it ended.
CREATE TABLE IF NOT EXISTS score_runs
(
    run_id String,
    model String,
    version UInt32,
    checksum String,          -- sha256 of the model file
    draft UInt8,              -- 1: the model version is not released
    started_at DateTime('UTC'),
    finished_at DateTime('UTC'),
    as_of DateTime('UTC'),    -- interactions up to this moment count
    leads UInt64,             -- leads scored
    window_start DateTime('UTC'),
    decided UInt64,           -- leads decided in [window_start, as_of): the backtest's
    status String,            -- ok, failed
    error String
)
ENGINE = MergeTree
ORDER BY (model, version, started_at);

-- Every lead's score in every run, kept: a lead's score over time is a
-- series. rules and points say why: the rules that fired and a group's
-- cap (<group>:cap, negative when the cap took points away) with their
-- points, which add up to the score. Ordered so that one run of a model
-- (the current scores) and one lead's series both read few rows. Texts are
-- LowCardinality where the engine has it: a run repeats its id, the model,
-- grades, stages and rule names on every row.
{{$lc := "String"}}{{if .Dialect.ModernSQL}}{{$lc = "LowCardinality(String)"}}{{end}}
CREATE TABLE IF NOT EXISTS lead_scores
(
    run_id {{$lc}},
    scored_at DateTime('UTC'),
    as_of DateTime('UTC'),
    environment {{$lc}},
    leadid UUID,
    model {{$lc}},
    version UInt32,
    checksum {{$lc}},
    draft UInt8,
    score Float64,
    grade {{$lc}},
    stage {{$lc}},            -- sales_ready, marketing_qualified, not_qualified ('' without thresholds)
    rules Array({{$lc}}),
    points Array(Float64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(scored_at)
ORDER BY (model, version, run_id, environment, leadid);

-- The backtest of each run per environment and grade: leads decided in the
-- window with their score as of the decision, and how many were qualified.
CREATE TABLE IF NOT EXISTS lead_score_backtest_grades
(
    run_id String,
    as_of DateTime('UTC'),
    window_start DateTime('UTC'),
    environment String,
    model String,
    version UInt32,
    checksum String,
    draft UInt8,
    grade String,
    grade_rank UInt8,         -- 1 is the top grade
    grades UInt8,             -- the model's number of grades: grade_rank = grades is the bottom
    decided UInt64,
    qualified UInt64
)
ENGINE = MergeTree
ORDER BY (model, version, run_id, environment, grade_rank);

-- The backtest's counts for the area under the ROC curve per environment:
-- AUC = concordant / (positives × negatives).
CREATE TABLE IF NOT EXISTS lead_score_backtest_auc
(
    run_id String,
    as_of DateTime('UTC'),
    window_start DateTime('UTC'),
    environment String,
    model String,
    version UInt32,
    checksum String,
    draft UInt8,
    positives UInt64,         -- decided leads that were qualified
    negatives UInt64,         -- decided leads that were disqualified
    concordant Float64        -- (qualified, disqualified) pairs where the qualified lead scored higher; ties count half
)
ENGINE = MergeTree
ORDER BY (model, version, run_id, environment);

-- The models as they were run (one row per id, version and checksum).
CREATE TABLE IF NOT EXISTS score_models
(
    model String,
    version UInt32,
    checksum String,
    released UInt8,
    title String,
    description String,
    owner String,
    source String,
    grades Array(String),     -- from the top down
    rules UInt32,
    path String,
    text String,              -- the model file
    loaded_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (model, version, checksum);

-- The current score of every lead per model version: its latest
-- successful run. A lead deleted since is not in it.
CREATE VIEW IF NOT EXISTS lead_score AS
SELECT
    environment,
    leadid,
    model,
    version,
    checksum,
    draft,
    score,
    grade,
    stage,
    rules,
    points,
    as_of,
    scored_at,
    run_id
FROM lead_scores
WHERE (model, version, run_id) IN
(
    SELECT model, version, argMax(run_id, finished_at)
    FROM score_runs
    WHERE status = 'ok'
    GROUP BY model, version
);
