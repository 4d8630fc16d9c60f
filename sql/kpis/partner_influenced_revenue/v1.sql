/*
id: partner_influenced_revenue
version: 1
title: Partner-influenced revenue
description: Won revenue of deals a partner referred but did not bring in, kept apart from partner-sourced revenue.
owner: Partner management
level: strategic
phase: partner
type: value
unit: currency
direction: higher_better
grain: snapshot
sources: [opportunity, lead]
counting: >-
  Live opportunities won (statecode 1) whose originating lead has the lead source External
  Referral (leadsourcecode 3) — a partner's referral that the own sales team worked: their
  actualvalue_base summed; denominator is the number of such deals. Partner-sourced deals
  (lead source Partner) are not counted here.
formula: Σ actualvalue_base of won opportunities from External Referral leads
source: seed 003 (partner-influenced revenue, kept apart from partner-sourced); KPI-NOTES.md §7
*/
SELECT
    _environment AS environment,
    toFloat64(sum(actualvalue_base)) AS value,
    toFloat64(count()) AS denominator
FROM opportunity
WHERE statecode = 1
    AND originatingleadid IN (SELECT leadid FROM lead WHERE leadsourcecode = 3)
GROUP BY _environment
