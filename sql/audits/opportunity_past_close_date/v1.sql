/*
id: opportunity_past_close_date
version: 1
title: Open opportunities past their estimated close date
description: >-
  An open opportunity (statecode 0) whose estimatedclosedate is before the audit's day: the
  pipeline counts it, but it is either lost or its date is stale.
severity: warning
kind: sql
table: opportunity
*/
SELECT
    _environment AS environment,
    toString(opportunityid) AS record_id,
    'estimatedclosedate' AS field,
    toString(assumeNotNull(estimatedclosedate)) AS value,
    concat('still open, estimated to close on ', toString(assumeNotNull(estimatedclosedate))) AS detail
FROM opportunity
WHERE statecode = 0 AND estimatedclosedate IS NOT NULL AND assumeNotNull(estimatedclosedate) < toDate({{.Now}})
