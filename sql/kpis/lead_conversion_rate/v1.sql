/*
id: lead_conversion_rate
version: 1
title: Lead conversion rate
description: How many of the leads that were decided were qualified into opportunities.
owner: Sales operations
level: tactical
phase: business-impact
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 25"
  amber: ">= 15"
min_denominator: 20
grain: snapshot
sources: [lead]
counting: >-
  Live leads closed as Qualified (statecode 1) over live leads closed as Qualified or
  Disqualified (statecode 2). Open leads (statecode 0) are not decided and do not count.
formula: qualified ÷ (qualified + disqualified) × 100
source: KPI-NOTES.md §6 (lead conversion rate); thresholds are Ampel's defaults for B2B
*/
SELECT
    _environment AS environment,
    toFloat64(countIf(statecode = 1)) AS numerator,
    toFloat64(countIf(statecode IN (1, 2))) AS denominator
FROM lead
GROUP BY _environment
