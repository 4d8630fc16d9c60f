/*
id: cost_per_lead
version: 1
title: Cost per lead
description: Marketing spend of a month per lead created in that month.
owner: Marketing
level: tactical
phase: business-impact
type: ratio
unit: currency
direction: lower_better
min_denominator: 1
grain: month
sources: [lead]
inputs: [costs]
counting: >-
  Months with a marketing cost in the inputs file (costs, category marketing); the live
  leads created in that month (createdon, month cut in kpis.timezone) before the run's as-of
  moment. No thresholds: what a lead may cost depends on the deal size.
formula: marketing cost of the month ÷ leads created in the month
source: KPI-NOTES.md §6 (cost per lead); MISSION.md business impact
*/
SELECT
    environment,
    toDateTime(month, {{.TZ}}) AS period_start,
    toDateTime(addMonths(month, 1), {{.TZ}}) AS period_end,
    toFloat64(cost) AS numerator,
    toFloat64(leads) AS denominator
FROM
(
    SELECT environment, month, sum(amount) AS cost
    FROM kpi_input_money
    WHERE run_id = {{.Run}} AND kind = 'cost' AND category = 'marketing'
    GROUP BY environment, month
) AS c
ALL LEFT JOIN
(
    SELECT _environment AS environment, toStartOfMonth(toDate(assumeNotNull(createdon), {{.TZ}})) AS month, count() AS leads
    FROM lead
    WHERE createdon IS NOT NULL AND createdon < {{.AsOf}}
    GROUP BY _environment, month
) AS l USING (environment, month)
