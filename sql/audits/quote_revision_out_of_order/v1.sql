/*
id: quote_revision_out_of_order
version: 1
title: Quote revisions out of order
description: >-
  A quote with a revisionnumber no higher than that of an earlier-created quote with the same
  quotenumber: revising a quote makes a new one with the next number, so a lower or repeated
  number after a higher one is an import or a copy gone wrong.
severity: info
kind: sql
table: quote
*/
SELECT
    environment,
    record_id,
    'revisionnumber' AS field,
    toString(any(rev)) AS value_revisionnumber,
    any(number) AS value_quotenumber,
    concat('revision ', toString(any(rev)), ' created after revision ', toString(max(prev_rev))) AS detail
FROM
(
    SELECT _environment AS environment, assumeNotNull(quotenumber) AS number, toString(quoteid) AS record_id,
        assumeNotNull(revisionnumber) AS rev, assumeNotNull(createdon) AS created
    FROM quote
    WHERE quotenumber IS NOT NULL AND revisionnumber IS NOT NULL AND createdon IS NOT NULL
) AS q
ALL INNER JOIN
(
    SELECT _environment AS environment, assumeNotNull(quotenumber) AS number, assumeNotNull(revisionnumber) AS prev_rev,
        assumeNotNull(createdon) AS prev_created
    FROM quote
    WHERE quotenumber IS NOT NULL AND revisionnumber IS NOT NULL AND createdon IS NOT NULL
) AS p USING (environment, number)
WHERE prev_created < created AND prev_rev >= rev
GROUP BY environment, record_id
