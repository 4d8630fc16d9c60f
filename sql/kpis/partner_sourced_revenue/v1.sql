/*
id: partner_sourced_revenue
version: 1
title: Partner-sourced revenue
description: Won revenue of deals a partner brought in, kept apart from partner-influenced revenue.
owner: Partner management
level: strategic
phase: partner
type: value
unit: currency
direction: higher_better
grain: snapshot
sources: [opportunity, lead]
counting: >-
  Live opportunities won (statecode 1) whose originating lead has the lead source Partner
  (leadsourcecode 4): their actualvalue_base summed; denominator is the number of such deals.
  A deal is partner-sourced or partner-influenced (partner_influenced_revenue), never both.
  Organisations that record partners in their own columns put that rule in a new version.
formula: Σ actualvalue_base of won opportunities from Partner leads
source: seed 003 (partner-sourced revenue, kept apart from partner-influenced); KPI-NOTES.md §7 (money in _base)
*/
SELECT
    _environment AS environment,
    toFloat64(sum(actualvalue_base)) AS value,
    toFloat64(count()) AS denominator
FROM opportunity
WHERE statecode = 1
    AND originatingleadid IN (SELECT leadid FROM lead WHERE leadsourcecode = 4)
GROUP BY _environment
