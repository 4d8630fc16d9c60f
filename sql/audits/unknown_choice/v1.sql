/*
id: unknown_choice
version: 1
title: Choice values that are not in the metadata
description: >-
  A choice (option set) field whose value the table's metadata does not list: the sync takes
  each value's label from the option set metadata, so a value with no label (<field>name
  empty) is an option that was removed or never existed — often from an import that wrote
  raw numbers.
severity: warning
kind: sql
tables: [lead, contact, account, opportunity, quote, salesorder, invoice, incident]
*/
{{- $t := .}}
{{- range $i, $c := .ChoiceColumns}}{{if $i}}
UNION ALL
{{end}}
SELECT
    _environment AS environment,
    toString({{ident $t.Key}}) AS record_id,
    '{{$c}}' AS field,
    toString(assumeNotNull({{ident $c}})) AS value,
    concat('the option set has no value ', toString(assumeNotNull({{ident $c}}))) AS detail
FROM {{ident $t.Table}}
WHERE {{ident $c}} IS NOT NULL AND NOT match(ifNull({{ident (print $c "name")}}, ''), '\\S')
{{- end}}
