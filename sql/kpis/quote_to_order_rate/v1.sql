/*
id: quote_to_order_rate
version: 1
title: Quote-to-order rate
description: How many activated quotes became an order.
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
sources: [quote, salesorder]
counting: >-
  Live quotes that were activated (statecode Active 1, Won 2 or Closed 3) and are not an
  old revision (statuscode Revised 7); of these, the ones that a live sales order points at
  through its quoteid.
formula: activated quotes with an order ÷ activated quotes × 100
source: KPI-NOTES.md §6 (quote-to-order rate); seed 001 (order from a won quote)
*/
SELECT
    _environment AS environment,
    toFloat64(countIf(quoteid IN (SELECT assumeNotNull(quoteid) FROM salesorder WHERE quoteid IS NOT NULL))) AS numerator,
    toFloat64(count()) AS denominator
FROM quote
WHERE statecode IN (1, 2, 3) AND statuscode != 7
GROUP BY _environment
