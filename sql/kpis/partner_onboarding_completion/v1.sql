/*
id: partner_onboarding_completion
version: 1
title: Partner onboarding completion
description: How many of the partners that started onboarding have completed it.
owner: Partner management
level: operational
phase: partner
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 80"
  amber: ">= 60"
min_denominator: 1
grain: snapshot
inputs: [partners]
counting: >-
  Partners of the inputs file whose onboarding started on or before the run's as-of day;
  completed are those with onboarding_completed on or before it.
formula: partners with onboarding completed ÷ partners onboarding × 100
source: seed 003 (onboarding completion)
*/
SELECT
    environment,
    toFloat64(countIf(onboarding_completed IS NOT NULL AND onboarding_completed <= toDate({{.AsOf}}, {{.TZ}}))) AS numerator,
    toFloat64(count()) AS denominator
FROM kpi_input_partners
WHERE run_id = {{.Run}} AND onboarding_started IS NOT NULL AND onboarding_started <= toDate({{.AsOf}}, {{.TZ}})
GROUP BY environment
