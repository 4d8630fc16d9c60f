/*
id: partner_certification_rate
version: 1
title: Partner certification rate
description: How many of the onboarded partners are certified.
owner: Partner management
level: operational
phase: partner
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 70"
  amber: ">= 50"
min_denominator: 1
grain: snapshot
inputs: [partners]
counting: >-
  Partners of the inputs file that completed onboarding on or before the run's as-of day;
  certified are those with a certified date on or before it.
formula: certified partners ÷ onboarded partners × 100
source: seed 003 (training and certification completion)
*/
SELECT
    environment,
    toFloat64(countIf(certified IS NOT NULL AND certified <= toDate({{.AsOf}}, {{.TZ}}))) AS numerator,
    toFloat64(count()) AS denominator
FROM kpi_input_partners
WHERE run_id = {{.Run}} AND onboarding_completed IS NOT NULL AND onboarding_completed <= toDate({{.AsOf}}, {{.TZ}})
GROUP BY environment
