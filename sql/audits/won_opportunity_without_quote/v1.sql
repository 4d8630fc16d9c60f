/*
id: won_opportunity_without_quote
version: 1
title: Won opportunities without a quote
description: >-
  An opportunity won (statecode 1) that no quote refers to: the deal was closed outside the
  quoting process, so its price and terms are not in the system.
severity: warning
kind: sql
table: opportunity
*/
{{- if index .Views "quote"}}
SELECT
    _environment AS environment,
    toString(opportunityid) AS record_id,
    'statecode' AS field,
    ifNull(statecodename, '') AS value,
    'won, but no quote refers to it' AS detail
FROM opportunity
WHERE statecode = 1
    AND (_environment, opportunityid) NOT IN
        (SELECT _environment, assumeNotNull(opportunityid) FROM quote WHERE opportunityid IS NOT NULL)
{{- end}}
