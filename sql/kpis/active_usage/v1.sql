/*
id: active_usage
version: 1
title: Active usage (28 days)
description: The share of licensed users who worked in the system in the last 28 days, as the FastTrack success review measures it.
owner: Project lead
level: strategic
phase: hypercare
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 10"
  amber: ">= 5"
min_denominator: 1
grain: snapshot
sources: [account, contact, lead, opportunity, quote, salesorder, invoice, activitypointer, incident, systemuser]
inputs: [licensed_users]
counting: >-
  Users active in the 28 days before the run's as-of moment, counted as for adoption_rate
  (createdby/createdon or modifiedby/modifiedon of a live record of the sales tables;
  application users left out), over the licensed users of the inputs file.
formula: distinct users active in the last 28 days ÷ licensed users × 100
source: seed 004 (FastTrack success review, active usage of at least 10 % per workload); KPI-NOTES.md §6 (MAU over rolling 28 days)
*/
SELECT
    environment,
    toFloat64(active) AS numerator,
    toFloat64(licensed) AS denominator
FROM
(
    SELECT environment, ifNull(licensed_users, 0) AS licensed
    FROM kpi_input_environments
    WHERE run_id = {{.Run}} AND licensed_users IS NOT NULL
) AS l
ALL LEFT JOIN
(
    SELECT environment, uniqExact(u) AS active
    FROM
    (
    {{- range $i, $t := .ActivityTables}}{{if $i}}
        UNION ALL{{end}}
        SELECT _environment AS environment, [createdby, modifiedby] AS users, [createdon, modifiedon] AS times FROM {{ident $t}}
    {{- end}}
    )
    ARRAY JOIN users AS u, times AS t
    WHERE u IS NOT NULL AND t >= {{.AsOf}} - 28 * 86400 AND t < {{.AsOf}}
        AND u NOT IN (SELECT systemuserid FROM systemuser WHERE applicationid IS NOT NULL)
    GROUP BY environment
) AS a USING environment
