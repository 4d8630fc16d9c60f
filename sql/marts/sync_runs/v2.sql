/*
id: sync_runs
version: 2
title: Sync runs
description: One row per table per sync run - what it did and how it ended (status ok, failed or canceled). started_date relates to dim_date. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [run_key]
sources: []
columns:
  run_key: String
  environment: String
  run_id: String
  table_name: String
  mode: String
  status: String
  error: String
  note: String
  started_at: DateTime('UTC')
  started_date: Date
  finished_at: DateTime('UTC')
  duration_ms: Int64
  rows_upserted: Int64
  rows_deleted: Int64
  pages: Int64
  requests: Int64
  throttled: Int64
  retries: Int64
  bytes: Int64
*/
SELECT
    concat(environment, '|', run_id, '|', table_name, '|', toString(started_at)) AS run_key,
    environment,
    run_id,
    table_name,
    mode,
    status,
    error,
    note,
    started_at,
    toDate(started_at, {{.TZ}}) AS started_date,
    finished_at,
    toInt64(duration_ms) AS duration_ms,
    toInt64(rows_upserted) AS rows_upserted,
    toInt64(rows_deleted) AS rows_deleted,
    toInt64(pages) AS pages,
    toInt64(requests) AS requests,
    toInt64(throttled) AS throttled,
    toInt64(retries) AS retries,
    toInt64(bytes) AS bytes
FROM sync_runs
