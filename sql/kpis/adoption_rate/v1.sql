/*
id: adoption_rate
version: 1
title: User adoption at 30/60/90 days
description: The share of licensed users who worked in the system in each 30-day window after go-live.
owner: Project lead
level: tactical
phase: hypercare
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 80"
  amber: ">= 60"
min_denominator: 1
grain: go_live_30_60_90
dimensions: [days_after_go_live]
sources: [account, contact, lead, opportunity, quote, salesorder, invoice, activitypointer, incident, systemuser]
inputs: [go_live, licensed_users]
counting: >-
  A user is active in a window when a live record of the sales tables (account, contact,
  lead, opportunity, quote, salesorder, invoice, activitypointer, incident) names them as
  createdby with createdon in the window, or as modifiedby with modifiedon in the window
  (Dataverse keeps only the last modification). Application users (systemuser with an
  applicationid, such as Ampel's own) do not count. Windows are days 1–30, 31–60 and 61–90
  after go-live's midnight in kpis.timezone, cut at the run's as-of moment; windows that
  have not begun are left out. The denominator is the licensed users of the inputs file.
formula: distinct active users in the window ÷ licensed users × 100
source: KPI-NOTES.md §6 (user adoption 30/60/90; active = created or modified a record); seed 000
*/
SELECT
    environment,
    period_start,
    period_end,
    (k + 1) * 30 AS dim_days_after_go_live,
    toFloat64(active) AS numerator,
    toFloat64(licensed) AS denominator
FROM
(
    SELECT
        environment,
        toInt64(n) AS k,
        addDays(toDateTime(assumeNotNull(go_live), {{.TZ}}), n * 30) AS period_start,
        addDays(toDateTime(assumeNotNull(go_live), {{.TZ}}), n * 30 + 30) AS period_end,
        ifNull(licensed_users, 0) AS licensed
    FROM kpi_input_environments
    ARRAY JOIN [0, 1, 2] AS n
    WHERE run_id = {{.Run}} AND go_live IS NOT NULL
) AS w
ALL LEFT JOIN
(
    SELECT environment, toInt64(intDiv(toInt64(toRelativeDayNum(at, {{.TZ}})) - toInt64(toRelativeDayNum(go)), 30)) AS k, uniqExact(user) AS active
    FROM
    (
        SELECT environment, user, at, go
        FROM
        (
            SELECT environment, assumeNotNull(u) AS user, assumeNotNull(t) AS at
            FROM
            (
            {{- range $i, $t := .ActivityTables}}{{if $i}}
                UNION ALL{{end}}
                SELECT _environment AS environment, [createdby, modifiedby] AS users, [createdon, modifiedon] AS times FROM {{ident $t}}
            {{- end}}
            )
            ARRAY JOIN users AS u, times AS t
            WHERE u IS NOT NULL AND t IS NOT NULL
                AND u NOT IN (SELECT systemuserid FROM systemuser WHERE applicationid IS NOT NULL)
        ) AS e
        ALL INNER JOIN
        (
            SELECT environment, assumeNotNull(go_live) AS go
            FROM kpi_input_environments
            WHERE run_id = {{.Run}} AND go_live IS NOT NULL
        ) AS g USING environment
    )
    WHERE at >= toDateTime(go, {{.TZ}}) AND at < {{.AsOf}} AND toInt64(toRelativeDayNum(at, {{.TZ}})) - toInt64(toRelativeDayNum(go)) < 90
    GROUP BY environment, k
) AS a USING (environment, k)
WHERE period_start < {{.AsOf}}
