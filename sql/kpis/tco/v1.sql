/*
id: tco
version: 1
title: Total cost of ownership (TCO)
description: What the CRM costs over the environment's TCO horizon.
owner: Management
level: strategic
phase: finance
type: value
unit: currency
direction: lower_better
grain: snapshot
inputs: [costs, tco_years]
counting: >-
  Every cost of the inputs file but marketing — licences, implementation, staff, support,
  training — in the tco_years years from the first month with such a cost, planned months
  included. No thresholds: TCO is judged against the business case.
formula: Σ costs in [first cost month, + tco_years × 12 months)
source: KPI-NOTES.md §6 (TCO); MISSION.md finance
*/
SELECT
    environment,
    toFloat64(sumIf(amount, month < addMonths(first_month, 12 * years))) AS value
FROM
(
    SELECT environment, month, amount, first_month
    FROM
    (
        SELECT environment, month, amount
        FROM kpi_input_money
        WHERE run_id = {{.Run}} AND kind = 'cost' AND category != 'marketing'
    ) AS c
    ALL INNER JOIN
    (
        SELECT environment, min(month) AS first_month
        FROM kpi_input_money
        WHERE run_id = {{.Run}} AND kind = 'cost' AND category != 'marketing'
        GROUP BY environment
    ) AS f USING environment
) AS cf
ALL INNER JOIN
(
    SELECT environment, toInt64(assumeNotNull(tco_years)) AS years
    FROM kpi_input_environments
    WHERE run_id = {{.Run}} AND tco_years IS NOT NULL
) AS y USING environment
GROUP BY environment
