/*
id: implausible_date
version: 1
title: Dates far in the past or the future
description: >-
  A date or date-time field of the record before params.past (ClickHouse's dates begin in
  1970: an older date arrives as 1970-01-01) or more than params.future_years years after the
  audit's moment — a typo in the year, most often.
severity: warning
kind: sql
tables: [lead, contact, account, opportunity, quote, salesorder, invoice]
params:
  past: "1971-01-01"
  future_years: 30
*/
{{- $t := .}}
{{- range $i, $c := .DateColumns}}{{if $i}}
UNION ALL
{{end}}
SELECT
    _environment AS environment,
    toString({{ident $t.Key}}) AS record_id,
    '{{$c}}' AS field,
    toString(assumeNotNull({{ident $c}})) AS value,
    if(toDate(assumeNotNull({{ident $c}})) < toDate('{{$t.Params.past}}'), 'before {{$t.Params.past}}', 'more than {{$t.Params.future_years}} years ahead') AS detail
FROM {{ident $t.Table}}
WHERE {{ident $c}} IS NOT NULL
    AND (toDate(assumeNotNull({{ident $c}})) < toDate('{{$t.Params.past}}')
        OR toDate(assumeNotNull({{ident $c}})) > addYears(toDate({{$t.Now}}), {{$t.Params.future_years}}))
{{- end}}
