/*
id: overdue_activity
version: 1
title: Overdue activities
description: >-
  An open or scheduled activity (statecode 0 or 3) whose scheduledend has passed: a call,
  e-mail, task or appointment nobody closed.
severity: info
kind: sql
table: activitypointer
*/
SELECT
    _environment AS environment,
    toString(activityid) AS record_id,
    'scheduledend' AS field,
    toString(assumeNotNull(scheduledend)) AS value,
    ifNull(activitytypecode, '') AS record_table,
    concat('due ', toString(assumeNotNull(scheduledend)), ', still ', ifNull(statecodename, 'open')) AS detail
FROM activitypointer
WHERE statecode IN (0, 3) AND scheduledend IS NOT NULL AND assumeNotNull(scheduledend) < {{.Now}}
