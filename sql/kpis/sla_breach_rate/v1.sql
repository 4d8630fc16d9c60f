/*
id: sla_breach_rate
version: 1
title: SLA breach rate
description: How many cases missed their resolve-by SLA.
owner: Support lead
level: operational
phase: business-impact
type: ratio
unit: percent
direction: lower_better
thresholds:
  green: "< 5"
  amber: "< 10"
min_denominator: 10
grain: snapshot
sources: [incident]
counting: >-
  Live cases whose resolve-by SLA is decided: resolvebyslastatus Noncompliant (4) or
  Succeeded (3); In Progress and Nearing Noncompliance do not count yet. Merged cases
  (statuscode 2000) are left out.
formula: noncompliant cases ÷ (noncompliant + succeeded) × 100
source: KPI-NOTES.md §6 (SLA breach rate; codes VERIFY in the metadata); MISSION.md business impact
*/
SELECT
    _environment AS environment,
    toFloat64(countIf(resolvebyslastatus = 4)) AS numerator,
    toFloat64(countIf(resolvebyslastatus IN (3, 4))) AS denominator
FROM incident
WHERE ifNull(statuscode, 0) != 2000
GROUP BY _environment
