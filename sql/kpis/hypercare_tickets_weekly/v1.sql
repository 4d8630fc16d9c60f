/*
id: hypercare_tickets_weekly
version: 1
title: Hypercare tickets per week
description: The weekly trend of support tickets in the first 13 weeks after go-live, per 100 licensed users.
owner: Support lead
level: operational
phase: hypercare
type: ratio
unit: per_100_users
direction: lower_better
thresholds:
  green: "<= 3"
  amber: "<= 6"
min_denominator: 1
grain: go_live_week
dimensions: [week_after_go_live]
sources: [incident]
inputs: [go_live, licensed_users]
counting: >-
  Live cases (incident) created in each week after go-live — weeks 1 to 13, seven calendar days
  each from go-live's midnight in kpis.timezone — and before the
  run's as-of moment; merged cases (statuscode 2000) do not count. Weeks that have not
  begun are left out; the current one counts what it has so far. The denominator is the
  environment's licensed users from the inputs file.
formula: cases created in the week ÷ licensed users × 100
source: seed 000 (support tickets per 100 users; weekly trend in hypercare); KPI-NOTES.md §6
*/
SELECT
    environment,
    period_start,
    period_end,
    week AS dim_week_after_go_live,
    toFloat64(arrayCount(t -> t >= period_start AND t < period_end AND t < {{.AsOf}}, created)) AS numerator,
    toFloat64(licensed) AS denominator
FROM
(
    SELECT
        environment,
        addDays(toDateTime(assumeNotNull(go_live), {{.TZ}}), k * 7) AS period_start,
        addDays(toDateTime(assumeNotNull(go_live), {{.TZ}}), k * 7 + 7) AS period_end,
        k + 1 AS week,
        ifNull(licensed_users, 0) AS licensed
    FROM kpi_input_environments
    ARRAY JOIN range(13) AS k
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
