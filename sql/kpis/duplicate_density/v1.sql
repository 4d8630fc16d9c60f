/*
id: duplicate_density
version: 1
title: Duplicate density
description: How many records a merge would remove, per table and exact-match rule.
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
sources: [lead, contact, account]
counting: >-
  Dynamics-like exact-match rules, blanks ignored: email_exact groups live records by
  emailaddress1 trimmed and lower-cased (leads, contacts); phone_exact by telephone1 trimmed
  (leads, contacts, accounts). Eligible records are those with a non-blank value. Excess
  records are the records in duplicate groups minus one per group: the records a merge would
  remove. The data-quality audit's rules replace these once they exist.
formula: (eligible records − distinct values) ÷ eligible records × 100
source: KPI-NOTES.md §2 (duplicates, excess rows ÷ eligible rows) and §3 (Dynamics exact match); seed 000
*/
SELECT environment, dim_table, dim_rule,
    toFloat64(count() - uniqExact(k)) AS numerator,
    toFloat64(count()) AS denominator
FROM
(
    SELECT _environment AS environment, 'lead' AS dim_table, 'email_exact' AS dim_rule,
        lowerUTF8(replaceRegexpAll(assumeNotNull(emailaddress1), '^\\s+|\\s+$', '')) AS k
    FROM lead WHERE match(ifNull(emailaddress1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'lead', 'phone_exact', replaceRegexpAll(assumeNotNull(telephone1), '^\\s+|\\s+$', '')
    FROM lead WHERE match(ifNull(telephone1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'contact', 'email_exact', lowerUTF8(replaceRegexpAll(assumeNotNull(emailaddress1), '^\\s+|\\s+$', ''))
    FROM contact WHERE match(ifNull(emailaddress1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'contact', 'phone_exact', replaceRegexpAll(assumeNotNull(telephone1), '^\\s+|\\s+$', '')
    FROM contact WHERE match(ifNull(telephone1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'account', 'phone_exact', replaceRegexpAll(assumeNotNull(telephone1), '^\\s+|\\s+$', '')
    FROM account WHERE match(ifNull(telephone1, ''), '\\S')
)
GROUP BY environment, dim_table, dim_rule
