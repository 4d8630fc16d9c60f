/*
id: romi
version: 1
title: Return on marketing investment (ROMI)
description: What the marketing spend brought back as margin on won deals that started as leads.
owner: Marketing
level: strategic
phase: finance
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: "> 0"
  amber: "> -25"
min_denominator: 1
grain: snapshot
sources: [opportunity]
inputs: [costs, gross_margin]
counting: >-
  Marketing cost is every cost of category marketing in the inputs file. Marketing-attributed
  revenue is the actualvalue_base of live opportunities won (statecode 1) that originated
  from a lead (originatingleadid set), closed (actualclosedate) from the first month with a
  marketing cost up to the run's as-of day. The margin is the environment's gross_margin.
formula: (attributed revenue × gross margin − marketing cost) ÷ marketing cost × 100
source: KPI-NOTES.md §6 (ROMI, > 0 is profitable); MISSION.md finance
*/
SELECT
    environment,
    sumIf(value, closed >= first_month) * any(margin) - any(cost) AS numerator,
    any(cost) AS denominator
FROM
(
    SELECT environment, cost, first_month, margin
    FROM
    (
        SELECT environment, sum(amount) AS cost, min(month) AS first_month
        FROM kpi_input_money
        WHERE run_id = {{.Run}} AND kind = 'cost' AND category = 'marketing'
        GROUP BY environment
    ) AS c
    ALL INNER JOIN
    (
        SELECT environment, ifNull(gross_margin, 0) AS margin
        FROM kpi_input_environments
        WHERE run_id = {{.Run}}
    ) AS m USING environment
) AS cm
ALL LEFT JOIN
(
    SELECT _environment AS environment,
        assumeNotNull(actualclosedate) AS closed,
        toFloat64(assumeNotNull(actualvalue_base)) AS value
    FROM opportunity
    WHERE statecode = 1 AND originatingleadid IS NOT NULL AND actualclosedate IS NOT NULL AND actualvalue_base IS NOT NULL
        AND actualclosedate <= toDate({{.AsOf}}, {{.TZ}})
) AS o USING environment
GROUP BY environment
