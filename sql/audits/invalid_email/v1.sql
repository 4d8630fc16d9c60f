/*
id: invalid_email
version: 1
title: E-mail addresses that are not well-formed
description: >-
  A filled emailaddress1 that, trimmed, is not one @ between a part without spaces and a
  domain with a dot and no spaces (^[^@\s]+@[^@\s]+\.[^@\s]+$) — the test of the validity_rate
  KPI, so its findings are the addresses that KPI does not count as valid.
severity: warning
kind: sql
tables: [lead, contact, account]
*/
SELECT
    _environment AS environment,
    toString({{ident .Key}}) AS record_id,
    'emailaddress1' AS field,
    assumeNotNull(emailaddress1) AS value,
    'not an e-mail address' AS detail
FROM {{ident .Table}}
WHERE match(ifNull(emailaddress1, ''), '\\S')
    AND NOT match(replaceRegexpAll(assumeNotNull(emailaddress1), '^\\s+|\\s+$', ''), '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$')
