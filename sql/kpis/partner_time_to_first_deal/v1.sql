/*
id: partner_time_to_first_deal
version: 1
title: Partner time to first deal (median)
description: How long a partner takes from the start of onboarding to its first deal.
owner: Partner management
level: tactical
phase: partner
type: value
unit: days
direction: lower_better
thresholds:
  green: "<= 90"
  amber: "<= 180"
min_denominator: 3
grain: snapshot
inputs: [partners]
counting: >-
  Partners of the inputs file with an onboarding start and a first deal on or before the
  run's as-of day: days from onboarding_started to first_deal. The median is the upper
  middle value (quantileExact(0.5)); the denominator is the number of such partners.
formula: median(first_deal − onboarding_started) in days
source: seed 003 (time to first deal, median rather than mean)
*/
SELECT
    environment,
    toFloat64(quantileExact(0.5)(toInt64(assumeNotNull(first_deal)) - toInt64(assumeNotNull(onboarding_started)))) AS value,
    toFloat64(count()) AS denominator
FROM kpi_input_partners
WHERE run_id = {{.Run}} AND onboarding_started IS NOT NULL AND first_deal IS NOT NULL
    AND first_deal <= toDate({{.AsOf}}, {{.TZ}})
GROUP BY environment
