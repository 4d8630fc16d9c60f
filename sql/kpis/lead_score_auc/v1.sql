/*
id: lead_score_auc
version: 1
title: Lead score AUC
description: How well a scoring model's score, as of each lead's decision, tells the leads that were qualified from those that were not.
owner: Marketing operations
level: tactical
phase: business-impact
type: ratio
unit: ratio
direction: higher_better
thresholds:
  green: ">= 0.7"
  amber: ">= 0.6"
min_denominator: 400
grain: snapshot
dimensions: [model]
sources: [lead_score_backtest_auc, score_runs, lead, activitypointer]
counting: >-
  The backtest of each model version's latest successful scoring run, as for
  lead_score_conversion_by_grade: of every pair of a qualified and a disqualified lead
  decided in the window, the share in which the qualified lead had the higher score as of
  its decision, ties counting half — the area under the ROC curve. 0.5 is no better than
  chance. Below 400 pairs (e.g. 20 × 20) the status is none.
formula: pairs ordered right (ties half) ÷ (qualified leads × disqualified leads)
source: issue 13 (AUC of the score); Mann–Whitney U; 0.7 acceptable, 0.8 excellent (Hosmer & Lemeshow)
*/
SELECT
    environment,
    window_start AS period_start,
    as_of AS period_end,
    concat(model, '@v', toString(version)) AS dim_model,
    concordant AS numerator,
    toFloat64(positives * negatives) AS denominator
FROM lead_score_backtest_auc
WHERE (model, version, run_id) IN
(
    SELECT model, version, argMax(run_id, finished_at)
    FROM score_runs
    WHERE status = 'ok'
    GROUP BY model, version
)
