/*
id: record_completeness
version: 2
title: Records with every critical field filled
description: How many records of each table have all their critical fields filled.
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
dimensions: [table]
sources: [lead, contact, account, opportunity, quote, salesorder, invoice]
counting: >-
  Live records of each table; a record is complete when every critical field of its table
  (as for field_completeness) is filled: not NULL and not only whitespace.
formula: records with all critical fields filled ÷ records × 100
source: KPI-NOTES.md §2 (completeness per record); seed 000
changes: >-
  Same counting and results as v1, cheaper: the test for a filled field runs the regular
  expression only on a value that starts with whitespace (a value that starts with anything
  else is filled), which takes most of v1's time on large tables.
*/
{{- range $i, $t := .CriticalFields}}{{if $i}}
UNION ALL
{{end}}
SELECT
    _environment AS environment,
    '{{$t.Table}}' AS dim_table,
    toFloat64(sum({{range $j, $f := $t.Fields}}{{if $j}} AND {{end}}if(isNull({{ident $f}}), 0, notEmpty(toString(assumeNotNull({{ident $f}}))) AND (substring(toString(assumeNotNull({{ident $f}})), 1, 1) NOT IN (' ', '\t', '\n', '\f', '\r') OR match(toString(assumeNotNull({{ident $f}})), '\\S'))){{end}})) AS numerator,
    toFloat64(count()) AS denominator
FROM {{ident $t.Table}}
GROUP BY _environment
{{- end}}
