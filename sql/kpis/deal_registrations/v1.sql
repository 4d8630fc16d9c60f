/*
id: deal_registrations
version: 1
title: Deal registrations
description: Deals partners registered, per month.
owner: Partner management
level: operational
phase: partner
type: value
unit: count
direction: higher_better
grain: month
sources: [lead]
counting: >-
  Live leads with the lead source Partner (leadsourcecode 4) — a partner registers a deal
  as a lead — by the month of createdon (cut in kpis.timezone), before the run's as-of
  moment. Months without a registration have no row.
formula: count of Partner leads created in the month
source: seed 003 (deal registration volume)
*/
SELECT
    _environment AS environment,
    toDateTime(toStartOfMonth(toDate(assumeNotNull(createdon), {{.TZ}})), {{.TZ}}) AS period_start,
    toDateTime(addMonths(toStartOfMonth(toDate(assumeNotNull(createdon), {{.TZ}})), 1), {{.TZ}}) AS period_end,
    toFloat64(count()) AS value
FROM lead
WHERE leadsourcecode = 4 AND createdon IS NOT NULL AND createdon < {{.AsOf}}
GROUP BY _environment, period_start, period_end
