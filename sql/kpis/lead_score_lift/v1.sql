/*
id: lead_score_lift
version: 1
title: Lead score lift, top grade over bottom grade
description: How many times better the leads of a scoring model's top grade converted than those of its bottom grade.
owner: Marketing operations
level: tactical
phase: business-impact
type: value
unit: ratio
direction: higher_better
thresholds:
  green: ">= 1.5"
  amber: "> 1"
min_denominator: 20
grain: snapshot
dimensions: [model]
sources: [lead_score_backtest_grades, score_runs, lead, activitypointer]
counting: >-
  The backtest of each model version's latest successful scoring run, as for
  lead_score_conversion_by_grade: the conversion rate of the top grade over that of the
  bottom grade, each over the leads decided in the window with that grade as of their
  decision. The denominator is the smaller of the two grades' decided leads; below 20 the
  status is none. No value when the bottom grade converted none. A model whose top grade
  converts no better than its bottom grade (lift ≤ 1) is red.
formula: (qualified ÷ decided in the top grade) ÷ (qualified ÷ decided in the bottom grade)
source: issue 13 (lift of the top grade over the bottom); green from 1.5 is Ampel's default
*/
SELECT
    environment,
    period_start,
    period_end,
    dim_model,
    if(top_decided = 0 OR bottom_decided = 0 OR bottom_qualified = 0, NULL,
        (top_qualified / top_decided) / (bottom_qualified / bottom_decided)) AS value,
    toFloat64(least(top_decided, bottom_decided)) AS denominator
FROM
(
    SELECT
        environment,
        any(window_start) AS period_start,
        any(as_of) AS period_end,
        concat(model, '@v', toString(version)) AS dim_model,
        sumIf(qualified, grade_rank = 1) AS top_qualified,
        sumIf(decided, grade_rank = 1) AS top_decided,
        sumIf(qualified, grade_rank = grades) AS bottom_qualified,
        sumIf(decided, grade_rank = grades) AS bottom_decided
    FROM lead_score_backtest_grades
    WHERE (model, version, run_id) IN
    (
        SELECT model, version, argMax(run_id, finished_at)
        FROM score_runs
        WHERE status = 'ok'
        GROUP BY model, version
    )
    GROUP BY environment, model, version
)
