/*
id: kpi_history
version: 2
title: KPI history
description: Every result of every KPI run, kept - a KPI over time. A ratio keeps numerator and denominator so that it can be added up again over dimensions; value is empty when there is no value (status none). period_date relates to dim_date. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [result_key]
sources: []
columns:
  result_key: String
  environment: String
  run_id: String
  computed_at: DateTime('UTC')
  kpi_id: String
  version: Int64
  draft: Int64
  kpi: String
  unit: String
  direction: String
  period_start: DateTime('UTC')
  period_end: DateTime('UTC')
  period_date: Date
  dimensions: String
  value: Nullable(Float64)
  numerator: Float64
  denominator: Float64
  status: String
*/
SELECT
    concat(environment, '|', kpi_id, '@v', toString(kpi_version), '|', run_id, '|', dimensions, '|', toString(period_start)) AS result_key,
    environment,
    run_id,
    computed_at,
    kpi_id,
    toInt64(kpi_version) AS version,
    toInt64(kpi_draft) AS draft,
    ifNull(kpi_title, '') AS kpi,
    unit,
    ifNull(kpi_direction, '') AS direction,
    period_start,
    period_end,
    toDate(period_start, {{.TZ}}) AS period_date,
    dimensions,
    value,
    ifNull(numerator, 0) AS numerator,
    ifNull(denominator, 0) AS denominator,
    status
FROM
(
    SELECT
        environment, run_id, computed_at, kpi_id, version AS kpi_version, draft AS kpi_draft, unit,
        period_start, period_end, dimensions, value, numerator, denominator, status, kpi_title, kpi_direction
    FROM kpi_results
    ANY LEFT JOIN
    (
        SELECT kpi_id, version, checksum, title AS kpi_title, direction AS kpi_direction
        FROM kpi_definitions FINAL
    ) AS definitions USING (kpi_id, version, checksum)
)
