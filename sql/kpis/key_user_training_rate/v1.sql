/*
id: key_user_training_rate
version: 1
title: Key-user training rate
description: How many of the planned key users are trained.
owner: Project lead
level: operational
phase: pre-go-live
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: "> 90"
  amber: "> 75"
min_denominator: 1
grain: snapshot
inputs: [key_users]
counting: >-
  Key users listed in the inputs file (key_users) for the environment; trained are those
  with a trained_on date on or before the run's as-of day.
formula: trained key users ÷ planned key users × 100
source: seed 000 (key-user training rate > 90 %); KPI-NOTES.md §6
*/
SELECT
    environment,
    toFloat64(countIf(trained_on IS NOT NULL AND trained_on <= toDate({{.AsOf}}, {{.TZ}}))) AS numerator,
    toFloat64(count()) AS denominator
FROM kpi_input_key_users
WHERE run_id = {{.Run}}
GROUP BY environment
