/*
id: order_without_invoice
version: 1
title: Orders without an invoice after some days
description: >-
  An order that is not canceled (statecode 2), created more than params.days days before the
  audit's moment, that no invoice refers to.
severity: warning
kind: sql
table: salesorder
params:
  days: 30
*/
{{- if index .Views "invoice"}}
SELECT
    _environment AS environment,
    toString(salesorderid) AS record_id,
    'createdon' AS field,
    toString(assumeNotNull(createdon)) AS value,
    'no invoice after {{.Params.days}} days' AS detail
FROM salesorder
WHERE ifNull(statecode, -1) != 2
    AND createdon < subtractDays({{.Now}}, {{.Params.days}})
    AND (_environment, salesorderid) NOT IN
        (SELECT _environment, assumeNotNull(salesorderid) FROM invoice WHERE salesorderid IS NOT NULL)
{{- end}}
