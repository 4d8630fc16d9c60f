/*
id: hypercare_tickets_per_100_users
version: 1
title: Hypercare tickets per 100 users
description: Support tickets in the first 30, 60 and 90 days after go-live, per 100 licensed users.
owner: Support lead
level: operational
phase: hypercare
type: ratio
unit: per_100_users
direction: lower_better
thresholds:
  green: "<= 10"
  amber: "<= 25"
min_denominator: 1
grain: go_live_30_60_90
dimensions: [days_after_go_live]
sources: [incident]
inputs: [go_live, licensed_users]
counting: >-
  Live cases (incident) created in each 30-day window after go-live — days 1–30, 31–60 and
  61–90, counted in calendar days from go-live's midnight in kpis.timezone — and before the
  run's as-of moment; merged cases (statuscode 2000) do not count. Windows that have not
  begun are left out; the current one counts what it has so far. The denominator is the
  environment's licensed users from the inputs file.
formula: cases created in the window ÷ licensed users × 100
source: seed 000 (support tickets per 100 users, 30/60/90 days after go-live); KPI-NOTES.md §6
*/
SELECT
    environment,
    period_start,
    period_end,
    days AS dim_days_after_go_live,
    toFloat64(arrayCount(t -> t >= period_start AND t < period_end AND t < {{.AsOf}}, created)) AS numerator,
    toFloat64(licensed) AS denominator
FROM
(
    SELECT
        environment,
        addDays(toDateTime(assumeNotNull(go_live), {{.TZ}}), k * 30) AS period_start,
        addDays(toDateTime(assumeNotNull(go_live), {{.TZ}}), k * 30 + 30) AS period_end,
        (k + 1) * 30 AS days,
        ifNull(licensed_users, 0) AS licensed
    FROM kpi_input_environments
    ARRAY JOIN [0, 1, 2] AS k
    WHERE run_id = {{.Run}} AND go_live IS NOT NULL
) AS w
ALL LEFT JOIN
(
    SELECT _environment AS environment, groupArray(assumeNotNull(createdon)) AS created
    FROM incident
    WHERE ifNull(statuscode, 0) != 2000 AND createdon IS NOT NULL
    GROUP BY _environment
) AS c USING environment
WHERE period_start < {{.AsOf}}
