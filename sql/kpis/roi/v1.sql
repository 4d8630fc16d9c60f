/*
id: roi
version: 1
title: Return on investment (ROI)
description: What the CRM brought back over what it cost so far.
owner: Management
level: strategic
phase: finance
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: "> 0"
  amber: "> -25"
min_denominator: 1
grain: snapshot
inputs: [costs, benefits]
counting: >-
  Costs and benefits of the inputs file up to and including the month of the run's as-of day
  (cut in kpis.timezone). Costs are every category but marketing (marketing pays for leads,
  not for the CRM); benefits every category.
formula: (benefits − costs) ÷ costs × 100
source: KPI-NOTES.md §6 (ROI; store both ROI and the ratio); seed 000
*/
SELECT
    environment,
    sumIf(amount, kind = 'benefit') - sumIf(amount, kind = 'cost') AS numerator,
    sumIf(amount, kind = 'cost') AS denominator
FROM kpi_input_money
WHERE run_id = {{.Run}} AND month <= toStartOfMonth(toDate({{.AsOf}}, {{.TZ}}))
    AND NOT (kind = 'cost' AND category = 'marketing')
GROUP BY environment
