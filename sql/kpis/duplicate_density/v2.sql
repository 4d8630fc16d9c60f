/*
id: duplicate_density
version: 2
title: Duplicate density
description: How many records a merge would remove, per table and duplicate rule of the audit.
owner: Data steward
level: operational
phase: data-quality
type: ratio
unit: percent
direction: lower_better
thresholds:
  green: "<= 1"
  amber: "<= 3"
min_denominator: 1
grain: snapshot
dimensions: [table, rule]
sources: [dq_run_rules, dq_runs]
counting: >-
  The groups of the data-quality audit's duplicate rules (ampel audit; ampel run audits after
  every sync) in its latest run as of the KPI's moment: the Dynamics-like rules
  (lead_same_email, …) and the fuzzy models (fuzzy_lead, …). Excess records are the records
  in duplicate groups minus one per group: the records a merge would remove. The denominator
  is the records the rule looked at: live records not merged into another; for a
  Dynamics-like rule those with a value that can match. Records a steward marked not a
  duplicate are never in one group, so the marks lower the density. Without an audit run
  there is no result.
formula: (records in duplicate groups − groups) ÷ records looked at × 100
source: KPI-NOTES.md §2 (duplicates, excess rows ÷ eligible rows, per rule); issue 14 (marks respected)
changes: >-
  v1 counted exact matches of trimmed e-mail and phone in SQL; v2 takes the audit's groups,
  which follow the configured duplicate rules, find near duplicates, and respect the
  stewards' not-a-duplicate marks.
*/
SELECT
    environment,
    table_name AS dim_table,
    rule_id AS dim_rule,
    toFloat64(tupleElement(argMax(tuple(excess, checked), seq), 1)) AS numerator,
    toFloat64(tupleElement(argMax(tuple(excess, checked), seq), 2)) AS denominator
FROM dq_run_rules
WHERE kind IN ('duplicate_rule', 'duplicate_model')
    AND run_id IN (SELECT run_id FROM dq_runs WHERE as_of <= {{.AsOf}})
GROUP BY environment, table_name, rule_id
HAVING denominator > 0
