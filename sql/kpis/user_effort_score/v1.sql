/*
id: user_effort_score
version: 1
title: User effort score
description: How hard the users find their work in the CRM, from the latest survey (1 very easy … 7 very hard).
owner: Project lead
level: tactical
phase: hypercare
type: value
unit: score
direction: lower_better
thresholds:
  green: "<= 3"
  amber: "<= 4"
min_denominator: 10
grain: snapshot
inputs: [ues]
counting: >-
  The environment's latest user effort survey (kind ues) of the inputs file taken on or
  before the run's as-of day: its average answer, and its responses as the denominator.
formula: average effort score of the latest survey
source: MISSION.md qualitative (user effort score); seed 000 (user survey scores)
*/
SELECT
    environment,
    argMax(average, taken_on) AS value,
    toFloat64(argMax(responses, taken_on)) AS denominator
FROM kpi_input_surveys
WHERE run_id = {{.Run}} AND kind = 'ues' AND taken_on <= toDate({{.AsOf}}, {{.TZ}})
GROUP BY environment
