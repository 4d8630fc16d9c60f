/*
id: fact_invoice
version: 2
title: Invoices
description: One row per current invoice. owner_key relates to dim_user, account_key or contact_key (the customer) to dim_account or dim_contact, order_key to fact_order, opportunity_key to fact_opportunity, created_date to dim_date. total_amount is in the base currency. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [invoice_key]
sources: [invoice]
columns:
  invoice_key: String
  environment: String
  invoice_id: UUID
  invoice_number: String
  name: String
  owner_key: String
  owner_name: String
  account_key: String
  contact_key: String
  customer_name: String
  order_key: String
  opportunity_key: String
  state_code: Int64
  state: String
  status_code: Int64
  status: String
  total_amount: Decimal(19, 4)
  due_date: Nullable(Date)
  delivered_on: Nullable(DateTime('UTC'))
  created_on: DateTime('UTC')
  created_date: Date
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(invoiceid)) AS invoice_key,
    _environment AS environment,
    invoiceid AS invoice_id,
    ifNull(invoicenumber, '') AS invoice_number,
    ifNull(name, '') AS name,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    if(ifNull(customeridtype, '') = 'account', ifNull(concat(_environment, '|', toString(customerid)), ''), '') AS account_key,
    if(ifNull(customeridtype, '') = 'contact', ifNull(concat(_environment, '|', toString(customerid)), ''), '') AS contact_key,
    ifNull(customeridname, '') AS customer_name,
    ifNull(concat(_environment, '|', toString(salesorderid)), '') AS order_key,
    ifNull(concat(_environment, '|', toString(opportunityid)), '') AS opportunity_key,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    ifNull(totalamount_base, toDecimal128(0, 4)) AS total_amount,
    duedate AS due_date,
    datedelivered AS delivered_on,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.invoice}}
