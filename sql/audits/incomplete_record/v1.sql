/*
id: incomplete_record
version: 1
title: Records with critical fields not filled
description: >-
  A record of the table whose critical fields are not all filled: a field is filled when it is
  not NULL and, as text, holds something other than whitespace. The critical fields are those
  of the completeness KPIs (kpis.critical_fields in the config, or the defaults of package
  kpis), so the findings of a table are the records record_completeness does not count.
severity: warning
kind: sql
tables: [lead, contact, account, opportunity, quote, salesorder, invoice]
*/
SELECT environment, record_id, '' AS field, value_missing, concat('critical fields not filled: ', value_missing) AS detail
FROM
(
    SELECT
        _environment AS environment,
        toString({{ident .Key}}) AS record_id,
        arrayStringConcat(arrayFilter(x -> x != '', [
            {{- range $i, $f := .CriticalFields}}{{if $i}},{{end}}
            if(if(isNull({{ident $f}}), 0, match(toString(assumeNotNull({{ident $f}})), '\\S')) = 1, '', '{{$f}}')
            {{- end}}
        ]), ', ') AS value_missing
    FROM {{ident .Table}}
)
WHERE value_missing != ''
