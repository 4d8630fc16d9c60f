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
SELECT environment, dim_table, dim_field, numerator, denominator
FROM
(
    SELECT environment, dim_table,
        ['emailaddress1', 'telephone1'] AS fields,
        [toFloat64(sumIf(email_ok, email != '')), toFloat64(sumIf(phone_ok, phone != ''))] AS valid,
        [toFloat64(countIf(email != '')), toFloat64(countIf(phone != ''))] AS filled
    FROM
    (
        SELECT environment, dim_table, email, phone,
            match(email, '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') AS email_ok,
            match(replaceRegexpAll(phone, '[\\s()./-]', ''), '^\\+?[0-9]{6,15}$') AS phone_ok
        FROM
        (
            SELECT _environment AS environment, 'lead' AS dim_table,
                replaceRegexpAll(ifNull(emailaddress1, ''), '^\\s+|\\s+$', '') AS email,
                replaceRegexpAll(ifNull(telephone1, ''), '^\\s+|\\s+$', '') AS phone
            FROM lead
            UNION ALL
            SELECT _environment, 'contact',
                replaceRegexpAll(ifNull(emailaddress1, ''), '^\\s+|\\s+$', ''),
                replaceRegexpAll(ifNull(telephone1, ''), '^\\s+|\\s+$', '')
            FROM contact
            UNION ALL
            SELECT _environment, 'account', '', replaceRegexpAll(ifNull(telephone1, ''), '^\\s+|\\s+$', '')
            FROM account
        )
    )
    GROUP BY environment, dim_table
)
ARRAY JOIN fields AS dim_field, valid AS numerator, filled AS denominator
WHERE denominator > 0
