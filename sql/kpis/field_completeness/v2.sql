/*
id: field_completeness
version: 2
title: Completeness of critical fields
description: How many records have each critical field filled, per table and field.
owner: Data steward
level: operational
phase: data-quality
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: "> 95"
  amber: "> 90"
min_denominator: 1
grain: snapshot
dimensions: [table, field]
sources: [lead, contact, account, opportunity, quote, salesorder, invoice]
counting: >-
  Live records of each table; a field is filled when it is not NULL and, as text, holds
  something other than whitespace. The critical fields are the defaults of package kpis
  (DefaultCriticalFields) or the table's list in kpis.critical_fields; tables that are not
  synced are left out.
formula: records with the field filled ÷ records × 100
source: seed 000 (completeness of critical fields > 95 %); KPI-NOTES.md §2 (completeness)
changes: >-
  Same counting and results as v1, cheaper: the test for a filled field runs the regular
  expression only on a value that starts with whitespace (a value that starts with anything
  else is filled), which takes most of v1's time on large tables.
*/
{{- range $i, $t := .CriticalFields}}{{if $i}}
UNION ALL
{{end}}
SELECT environment, dim_table, dim_field, numerator, denominator
FROM
(
    SELECT
        _environment AS environment,
        '{{$t.Table}}' AS dim_table,
        [{{range $j, $f := $t.Fields}}{{if $j}}, {{end}}'{{$f}}'{{end}}] AS fields,
        [{{range $j, $f := $t.Fields}}{{if $j}},
         {{end}}toFloat64(sum(if(isNull({{ident $f}}), 0, notEmpty(toString(assumeNotNull({{ident $f}}))) AND (substring(toString(assumeNotNull({{ident $f}})), 1, 1) NOT IN (' ', '\t', '\n', '\f', '\r') OR match(toString(assumeNotNull({{ident $f}})), '\\S'))))){{end}}] AS filled,
        toFloat64(count()) AS denominator
    FROM {{ident $t.Table}}
    GROUP BY _environment
)
ARRAY JOIN fields AS dim_field, filled AS numerator
{{- end}}
