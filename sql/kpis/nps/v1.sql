/*
id: nps
version: 1
title: Internal net promoter score
description: How likely the users are to recommend the CRM, from the latest survey.
owner: Project lead
level: tactical
phase: hypercare
type: ratio
unit: points
direction: higher_better
thresholds:
  green: ">= 30"
  amber: ">= 0"
min_denominator: 10
grain: snapshot
inputs: [nps]
counting: >-
  The environment's latest NPS survey of the inputs file taken on or before the run's as-of
  day: promoters answered 9–10, passives 7–8, detractors 0–6.
formula: (promoters − detractors) ÷ responses × 100, from −100 to 100
source: MISSION.md qualitative (internal NPS); seed 000 (user survey scores)
*/
SELECT
    environment,
    toFloat64(toInt64(argMax(promoters, taken_on)) - toInt64(argMax(detractors, taken_on))) AS numerator,
    toFloat64(argMax(responses, taken_on)) AS denominator
FROM kpi_input_surveys
WHERE run_id = {{.Run}} AND kind = 'nps' AND taken_on <= toDate({{.AsOf}}, {{.TZ}})
GROUP BY environment
