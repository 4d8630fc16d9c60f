/*
id: migration_error_rate
version: 1
title: Data migration error rate
description: How many migrated rows were rejected or failed validation, per object.
owner: Project lead
level: operational
phase: pre-go-live
type: ratio
unit: percent
direction: lower_better
thresholds:
  green: "< 3"
  amber: "< 5"
min_denominator: 1
grain: snapshot
dimensions: [object]
inputs: [migration]
counting: >-
  The inputs file's migration entries: rows migrated and rows rejected (failed validation)
  per environment and object, as the migration tool reported them.
formula: rejected rows ÷ migrated rows × 100
source: seed 000 (data migration error rate < 3 %); KPI-NOTES.md §6
*/
SELECT
    environment,
    object AS dim_object,
    toFloat64(sum(rejected)) AS numerator,
    toFloat64(sum(migrated)) AS denominator
FROM kpi_input_migration
WHERE run_id = {{.Run}}
GROUP BY environment, object
