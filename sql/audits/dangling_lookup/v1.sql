/*
id: dangling_lookup
version: 1
title: Lookups that point at no record
description: >-
  A lookup of the sales process (params.lookups: table.column:target, targets of a polymorphic
  lookup joined by |) whose record is not in the warehouse: the target was deleted
  and the referring record not synced since, a sync of the target table failed, or the data
  came in from an import that bypassed Dataverse. A lookup to a table that is not synced is
  not checked. A polymorphic lookup (customerid) is checked against the table its type
  column names.
severity: error
kind: sql
tables: [lead, contact, opportunity, quote, salesorder, invoice]
params:
  lookups: >-
    lead.parentaccountid:account lead.parentcontactid:contact lead.customerid:account|contact
    lead.qualifyingopportunityid:opportunity
    contact.parentcustomerid:account|contact
    opportunity.customerid:account|contact opportunity.parentaccountid:account
    opportunity.parentcontactid:contact opportunity.originatingleadid:lead
    quote.opportunityid:opportunity quote.customerid:account|contact
    salesorder.quoteid:quote salesorder.opportunityid:opportunity salesorder.customerid:account|contact
    invoice.salesorderid:salesorder invoice.opportunityid:opportunity invoice.customerid:account|contact
*/
{{- define "lookup"}}
SELECT
    _environment AS environment,
    toString({{ident .Key}}) AS record_id,
    '{{.Column}}' AS field,
    toString(assumeNotNull({{ident .Column}})) AS value,
    'no {{.Target}} with this id' AS detail
FROM {{ident .Table}}
WHERE {{ident .Column}} IS NOT NULL
    {{- if .TypeColumn}} AND {{ident .TypeColumn}} = '{{.Target}}'{{end}}
    AND (_environment, assumeNotNull({{ident .Column}})) NOT IN (SELECT _environment, {{ident .TargetKey}} FROM {{ident .Target}})
{{- end}}
{{- range $i, $l := lookups .Params.lookups}}{{if $i}}
UNION ALL
{{end}}{{template "lookup" $l}}{{end}}
