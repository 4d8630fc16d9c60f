/*
id: negative_amount
version: 1
title: Negative amounts
description: >-
  A money field of the record (not its _base twin) below zero: estimated and actual values,
  totals and revenue are never negative in the sales process.
severity: warning
kind: sql
tables: [lead, account, opportunity, quote, salesorder, invoice]
*/
{{- $t := .}}
{{- range $i, $c := .MoneyColumns}}{{if $i}}
UNION ALL
{{end}}
SELECT
    _environment AS environment,
    toString({{ident $t.Key}}) AS record_id,
    '{{$c}}' AS field,
    toString(assumeNotNull({{ident $c}})) AS value,
    'negative amount' AS detail
FROM {{ident $t.Table}}
WHERE {{ident $c}} < 0
{{- end}}
