/*
id: revisions_per_won_quote
version: 1
title: Revisions per won quote
description: How often a quote is revised before it is won.
owner: Sales operations
level: operational
phase: business-impact
type: ratio
unit: ratio
direction: lower_better
thresholds:
  green: "<= 1"
  amber: "<= 2"
min_denominator: 5
grain: snapshot
sources: [quote]
counting: >-
  Live quotes in state Won (statecode 2). A quote's revisionnumber counts the revisions
  before it (the first quote is 0), so the sum over won quotes is the number of revisions
  it took to win them.
formula: sum of revisionnumber of won quotes ÷ won quotes
source: seed 001 (quote revisions); MISSION.md business impact
*/
SELECT
    _environment AS environment,
    toFloat64(sum(ifNull(revisionnumber, 0))) AS numerator,
    toFloat64(count()) AS denominator
FROM quote
WHERE statecode = 2
GROUP BY _environment
