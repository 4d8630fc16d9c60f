/*
id: roi_ratio
version: 1
title: ROI ratio (benefit per cost)
description: Benefit per unit of cost so far — the seeds' "ROI ratio".
owner: Management
level: strategic
phase: finance
type: ratio
unit: ratio
direction: higher_better
thresholds:
  green: ">= 1"
  amber: ">= 0.75"
min_denominator: 1
grain: snapshot
inputs: [costs, benefits]
counting: >-
  As for roi: costs (but marketing) and benefits of the inputs file up to and including the
  month of the run's as-of day.
formula: benefits ÷ costs
source: MISSION.md finance (ROI ratio = benefit / cost); KPI-NOTES.md §6
*/
SELECT
    environment,
    sumIf(amount, kind = 'benefit') AS numerator,
    sumIf(amount, kind = 'cost') AS denominator
FROM kpi_input_money
WHERE run_id = {{.Run}} AND month <= toStartOfMonth(toDate({{.AsOf}}, {{.TZ}}))
    AND NOT (kind = 'cost' AND category = 'marketing')
GROUP BY environment
