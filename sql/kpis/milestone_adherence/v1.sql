/*
id: milestone_adherence
version: 1
title: Milestone adherence
description: How many of the milestones due so far were done on time.
owner: Project lead
level: tactical
phase: pre-go-live
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 90"
  amber: ">= 70"
min_denominator: 1
grain: snapshot
inputs: [milestones]
counting: >-
  Milestones of the inputs file due on or before the run's as-of day; on time are those done
  on or before their due date.
formula: milestones done by their due date ÷ milestones due × 100
source: MISSION.md before go-live (milestone and budget adherence)
*/
SELECT
    environment,
    toFloat64(countIf(done IS NOT NULL AND done <= due)) AS numerator,
    toFloat64(count()) AS denominator
FROM kpi_input_milestones
WHERE run_id = {{.Run}} AND due <= toDate({{.AsOf}}, {{.TZ}})
GROUP BY environment
