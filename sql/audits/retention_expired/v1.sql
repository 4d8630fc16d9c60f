/*
id: retention_expired
version: 1
title: Personal data kept past the retention period
description: >-
  A lead or contact with no activity for longer than the retention period (audit.retention_days
  in the config, default 730): its last activity is the latest of its own modifiedon and, for
  every activity regarding it, that activity's actualend and modifiedon. GDPR asks to delete
  or anonymise such data; the audit reports it and never deletes.
severity: warning
kind: sql
tables: [lead, contact]
*/
SELECT
    environment,
    record_id,
    'modifiedon' AS field,
    toString(greatest(own_last, activity_last)) AS value_last_activity,
    concat('no activity since ', toString(toDate(greatest(own_last, activity_last))), ' (retention {{.RetentionDays}} days)') AS detail
FROM
(
    SELECT _environment AS environment, toString({{ident .Key}}) AS record_id, assumeNotNull(modifiedon) AS own_last
        {{- if not (index .Views "activitypointer")}}, toDateTime(0, 'UTC') AS activity_last{{end}}
    FROM {{ident .Table}}
) AS r
{{- if index .Views "activitypointer"}}
ANY LEFT JOIN
(
    SELECT _environment AS environment, toString(assumeNotNull(regardingobjectid)) AS record_id,
        max(greatest(assumeNotNull(actualend), assumeNotNull(modifiedon))) AS activity_last
    FROM activitypointer
    WHERE regardingobjectid IS NOT NULL{{if has "activitypointer.regardingobjectidtype"}} AND regardingobjectidtype = '{{.Table}}'{{end}}
    GROUP BY environment, record_id
) AS a USING (environment, record_id)
{{- end}}
WHERE greatest(own_last, activity_last) < subtractDays({{.Now}}, {{.RetentionDays}})
