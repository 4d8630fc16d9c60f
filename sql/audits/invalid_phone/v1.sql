/*
id: invalid_phone
version: 1
title: Phone numbers that are not well-formed
description: >-
  A filled phone number (the params.columns the table has) that, without spaces, brackets,
  dots, slashes and dashes, is not an optional + and 6 to 15 digits (the length E.164
  allows) — the test of the validity_rate KPI for telephone1.
severity: warning
kind: sql
tables: [lead, contact, account]
params:
  columns: telephone1 mobilephone
*/
{{- $t := .}}
{{- range $i, $c := columns (words .Params.columns)}}{{if $i}}
UNION ALL
{{end}}
SELECT
    _environment AS environment,
    toString({{ident $t.Key}}) AS record_id,
    '{{$c}}' AS field,
    assumeNotNull({{ident $c}}) AS value,
    'not a phone number' AS detail
FROM {{ident $t.Table}}
WHERE match(ifNull({{ident $c}}, ''), '\\S')
    AND NOT match(replaceRegexpAll(assumeNotNull({{ident $c}}), '[\\s()./-]', ''), '^\\+?[0-9]{6,15}$')
{{- end}}
