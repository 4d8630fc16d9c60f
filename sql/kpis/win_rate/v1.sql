/*
id: win_rate
version: 1
title: Win rate
description: How many of the decided opportunities were won.
owner: Sales operations
level: tactical
phase: business-impact
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 30"
  amber: ">= 15"
min_denominator: 10
grain: snapshot
sources: [opportunity]
counting: >-
  Live opportunities closed as Won (statecode 1) over those closed as Won or Lost
  (statecode 2, which includes Canceled and Out-Sold). Open opportunities do not count.
formula: won ÷ (won + lost) × 100
source: KPI-NOTES.md §6 (opportunity win rate; B2B about 15–30 %)
*/
SELECT
    _environment AS environment,
    toFloat64(countIf(statecode = 1)) AS numerator,
    toFloat64(countIf(statecode IN (1, 2))) AS denominator
FROM opportunity
GROUP BY _environment
