/*
id: invalid_postcode
version: 1
title: Postcodes that do not fit their country
description: >-
  A filled address1_postalcode that, trimmed, does not have its country's form: five digits
  for Germany (also when address1_country is blank or missing: the DACH default), four for
  Austria and Switzerland, otherwise 3 to 10 letters, digits, spaces and dashes.
severity: info
kind: sql
tables: [lead, contact, account]
*/
{{- if has "address1_postalcode"}}
SELECT environment, record_id, 'address1_postalcode' AS field, value, concat('not a postcode of ', country) AS detail
FROM
(
    SELECT
        _environment AS environment,
        toString({{ident .Key}}) AS record_id,
        assumeNotNull(address1_postalcode) AS value,
        replaceRegexpAll(value, '^\\s+|\\s+$', '') AS code,
        {{- if has "address1_country"}}
        lowerUTF8(replaceRegexpAll(ifNull(address1_country, ''), '^\\s+|\\s+$', '')) AS c,
        {{- else}}
        '' AS c,
        {{- end}}
        multiIf(c IN ('', 'deutschland', 'germany', 'de'), 'DE', c IN ('österreich', 'oesterreich', 'austria', 'at', 'schweiz', 'switzerland', 'suisse', 'svizzera', 'ch'), 'AT/CH', 'another country') AS country
    FROM {{ident .Table}}
    WHERE match(ifNull(address1_postalcode, ''), '\\S')
)
WHERE NOT multiIf(country = 'DE', match(code, '^[0-9]{5}$'), country = 'AT/CH', match(code, '^[0-9]{4}$'), match(code, '^[A-Za-z0-9][A-Za-z0-9 -]{1,8}[A-Za-z0-9]$'))
{{- end}}
