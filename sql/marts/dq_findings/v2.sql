/*
id: dq_findings
version: 2
title: Data-quality findings
description: Every finding of the data-quality audit in its latest state (open or resolved), with the steward's review. record_key relates to the key of the dimension or fact of table_name (e.g. fact_lead.lead_key for table lead); first_seen_date to dim_date. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [finding_key]
sources: []
columns:
  finding_key: String
  environment: String
  finding_id: String
  rule_id: String
  rule_version: Int64
  severity: String
  kind: String
  table_name: String
  record_id: String
  record_key: String
  field: String
  field_values: String
  detail: String
  group_id: String
  link: String
  status: String
  first_seen: DateTime('UTC')
  first_seen_date: Date
  last_seen: DateTime('UTC')
  resolved_at: Nullable(DateTime('UTC'))
  review_mark: String
  review_comment: String
  reviewed_by: String
  reviewed_at: Nullable(DateTime('UTC'))
*/
SELECT
    concat(environment, '|', finding_id) AS finding_key,
    environment,
    finding_id,
    rule_id,
    toInt64(rule_version) AS rule_version,
    severity,
    kind,
    table_name,
    record_id,
    concat(environment, '|', record_id) AS record_key,
    field,
    field_values,
    detail,
    group_id,
    link,
    status,
    first_seen,
    toDate(first_seen, {{.TZ}}) AS first_seen_date,
    last_seen,
    resolved_at,
    review_mark,
    review_comment,
    reviewed_by,
    reviewed_at
FROM dq_findings_current
