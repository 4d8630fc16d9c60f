/*
id: invoice_total_differs
version: 1
title: Invoice totals that differ from their order
description: >-
  An invoice whose totalamount differs from the totalamount of the order it refers to (both
  in the transaction currency).
severity: error
kind: sql
table: invoice
*/
{{- if index .Views "salesorder"}}
SELECT
    environment,
    record_id,
    'totalamount' AS field,
    toString(invoice_total) AS value_totalamount,
    toString(order_total) AS value_order_totalamount,
    concat('the order ', order_id, ' totals ', toString(order_total)) AS detail
FROM
(
    SELECT _environment AS environment, toString(invoiceid) AS record_id, toString(assumeNotNull(salesorderid)) AS order_id,
        assumeNotNull(totalamount) AS invoice_total
    FROM invoice
    WHERE salesorderid IS NOT NULL AND totalamount IS NOT NULL
) AS i
ALL INNER JOIN
(
    SELECT _environment AS environment, toString(salesorderid) AS order_id, assumeNotNull(totalamount) AS order_total
    FROM salesorder
    WHERE totalamount IS NOT NULL
) AS o USING (environment, order_id)
WHERE invoice_total != order_total
{{- end}}
