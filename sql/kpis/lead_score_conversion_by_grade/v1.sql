/*
id: lead_score_conversion_by_grade
version: 1
title: Lead conversion by score grade
description: How many of the leads each grade of a scoring model held when they were decided were qualified.
owner: Marketing operations
level: tactical
phase: business-impact
type: ratio
unit: percent
direction: higher_better
min_denominator: 20
grain: snapshot
dimensions: [model, grade]
sources: [lead_score_backtest_grades, score_runs, lead, activitypointer]
counting: >-
  The backtest of each model version's latest successful scoring run (ampel score run, or
  ampel run after a sync): leads closed as Qualified (statecode 1) or Disqualified (2) in
  the model's window (by default the 365 days before the run), each graded by its score
  as of its decision — interactions after the decision do not count. The decision is the
  closed lead's modifiedon, or its qualifying opportunity's createdon when earlier. The
  period is the window. No thresholds: lift and AUC judge the model.
formula: qualified leads of the grade ÷ decided leads of the grade × 100
source: issue 13 (lead scoring backtest); seed 002 (grades in Customer Insights – Journeys)
*/
SELECT
    environment,
    window_start AS period_start,
    as_of AS period_end,
    concat(model, '@v', toString(version)) AS dim_model,
    grade AS dim_grade,
    toFloat64(qualified) AS numerator,
    toFloat64(decided) AS denominator
FROM lead_score_backtest_grades
WHERE (model, version, run_id) IN
(
    SELECT model, version, argMax(run_id, finished_at)
    FROM score_runs
    WHERE status = 'ok'
    GROUP BY model, version
)
