/*
id: open_pipeline_value
version: 1
title: Open pipeline value
description: The estimated revenue of the open opportunities, in the base currency.
owner: Sales management
level: strategic
phase: business-impact
type: value
unit: currency
direction: higher_better
grain: snapshot
sources: [opportunity]
counting: >-
  Live open opportunities (statecode 0); their estimatedvalue_base (the organisation's base
  currency) summed; denominator is the number of open opportunities. No thresholds: a
  pipeline's size is judged against the sales plan, not a fixed bound.
formula: sum of estimatedvalue_base of open opportunities
source: seed 001 (opportunity estimated revenue); KPI-NOTES.md §7 (money in _base)
*/
SELECT
    _environment AS environment,
    toFloat64(sum(estimatedvalue_base)) AS value,
    toFloat64(count()) AS denominator
FROM opportunity
WHERE statecode = 0
GROUP BY _environment
