/*
id: sales_cycle_length
version: 1
title: Sales cycle length (median)
description: How long a won deal takes from the opportunity's creation to its close.
owner: Sales operations
level: tactical
phase: business-impact
type: value
unit: days
direction: lower_better
thresholds:
  green: "<= 60"
  amber: "<= 90"
min_denominator: 5
grain: snapshot
sources: [opportunity]
counting: >-
  Live opportunities closed as Won (statecode 1) with an actual close date. Days from
  createdon to the start of actualclosedate (a date-only column, read in kpis.timezone).
  The median is the upper middle value (quantileExact(0.5)); denominator is the number
  of won opportunities.
formula: median(actualclosedate − createdon) in days
source: KPI-NOTES.md §6 (sales cycle length, median); seed 003 prefers medians to means
*/
SELECT
    _environment AS environment,
    quantileExact(0.5)(toInt64(toDateTime(actualclosedate, {{.TZ}})) - toInt64(createdon)) / 86400 AS value,
    toFloat64(count()) AS denominator
FROM opportunity
WHERE statecode = 1 AND actualclosedate IS NOT NULL
GROUP BY _environment
