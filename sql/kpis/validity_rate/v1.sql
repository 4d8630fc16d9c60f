/*
id: validity_rate
version: 1
title: Validity of emails and phone numbers
description: How many of the filled email addresses and phone numbers are well-formed.
owner: Data steward
level: operational
phase: data-quality
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 98"
  amber: ">= 95"
min_denominator: 1
grain: snapshot
dimensions: [table, field]
sources: [lead, contact, account]
counting: >-
  Live records with a non-blank value in the field. An email is valid when, trimmed, it is
  one @ between a part without spaces and a domain with a dot and no spaces
  (^[^@\s]+@[^@\s]+\.[^@\s]+$). A phone number is valid when, trimmed and without spaces,
  brackets, dots, slashes and dashes, it is an optional + and 6 to 15 digits (E.164 length).
formula: valid values ÷ filled values × 100
source: KPI-NOTES.md §2 (validity, email and phone formats); MISSION.md data quality
*/
SELECT environment, dim_table, dim_field,
    toFloat64(sum(valid)) AS numerator,
    toFloat64(count()) AS denominator
FROM
(
    SELECT _environment AS environment, 'lead' AS dim_table, 'emailaddress1' AS dim_field,
        match(replaceRegexpAll(assumeNotNull(emailaddress1), '^\\s+|\\s+$', ''), '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') AS valid
    FROM lead WHERE match(ifNull(emailaddress1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'lead', 'telephone1', match(replaceRegexpAll(assumeNotNull(telephone1), '[\\s()./-]', ''), '^\\+?[0-9]{6,15}$')
    FROM lead WHERE match(ifNull(telephone1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'contact', 'emailaddress1', match(replaceRegexpAll(assumeNotNull(emailaddress1), '^\\s+|\\s+$', ''), '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$')
    FROM contact WHERE match(ifNull(emailaddress1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'contact', 'telephone1', match(replaceRegexpAll(assumeNotNull(telephone1), '[\\s()./-]', ''), '^\\+?[0-9]{6,15}$')
    FROM contact WHERE match(ifNull(telephone1, ''), '\\S')
    UNION ALL
    SELECT _environment, 'account', 'telephone1', match(replaceRegexpAll(assumeNotNull(telephone1), '[\\s()./-]', ''), '^\\+?[0-9]{6,15}$')
    FROM account WHERE match(ifNull(telephone1, ''), '\\S')
)
GROUP BY environment, dim_table, dim_field
