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
SELECT environment, dim_table, dim_rule, numerator, denominator
FROM
(
    SELECT environment, dim_table,
        ['email_exact', 'phone_exact'] AS rules,
        [toFloat64(countIf(email != '') - uniqExactIf(email, email != '')),
         toFloat64(countIf(phone != '') - uniqExactIf(phone, phone != ''))] AS excess,
        [toFloat64(countIf(email != '')), toFloat64(countIf(phone != ''))] AS eligible
    FROM
    (
        SELECT _environment AS environment, 'lead' AS dim_table,
            lowerUTF8(replaceRegexpAll(ifNull(emailaddress1, ''), '^\\s+|\\s+$', '')) AS email,
            replaceRegexpAll(ifNull(telephone1, ''), '^\\s+|\\s+$', '') AS phone
        FROM lead
        UNION ALL
        SELECT _environment, 'contact',
            lowerUTF8(replaceRegexpAll(ifNull(emailaddress1, ''), '^\\s+|\\s+$', '')),
            replaceRegexpAll(ifNull(telephone1, ''), '^\\s+|\\s+$', '')
        FROM contact
        UNION ALL
        SELECT _environment, 'account', '', replaceRegexpAll(ifNull(telephone1, ''), '^\\s+|\\s+$', '')
        FROM account
    )
    GROUP BY environment, dim_table
)
ARRAY JOIN rules AS dim_rule, excess AS numerator, eligible AS denominator
WHERE denominator > 0
