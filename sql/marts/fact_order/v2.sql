/*
id: fact_order
version: 2
title: Orders
description: One row per current sales order (salesorder). owner_key relates to dim_user, account_key or contact_key (the customer) to dim_account or dim_contact, opportunity_key to fact_opportunity, quote_key to fact_quote, created_date to dim_date. total_amount is in the base currency. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [order_key]
sources: [salesorder]
columns:
  order_key: String
  environment: String
  order_id: UUID
  order_number: String
  name: String
  owner_key: String
  owner_name: String
  account_key: String
  contact_key: String
  customer_name: String
  opportunity_key: String
  quote_key: String
  state_code: Int64
  state: String
  status_code: Int64
  status: String
  total_amount: Decimal(19, 4)
  fulfilled_on: Nullable(DateTime('UTC'))
  created_on: DateTime('UTC')
  created_date: Date
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(salesorderid)) AS order_key,
    _environment AS environment,
    salesorderid AS order_id,
    ifNull(ordernumber, '') AS order_number,
    ifNull(name, '') AS name,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    if(ifNull(customeridtype, '') = 'account', ifNull(concat(_environment, '|', toString(customerid)), ''), '') AS account_key,
    if(ifNull(customeridtype, '') = 'contact', ifNull(concat(_environment, '|', toString(customerid)), ''), '') AS contact_key,
    ifNull(customeridname, '') AS customer_name,
    ifNull(concat(_environment, '|', toString(opportunityid)), '') AS opportunity_key,
    ifNull(concat(_environment, '|', toString(quoteid)), '') AS quote_key,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    ifNull(totalamount_base, toDecimal128(0, 4)) AS total_amount,
    datefulfilled AS fulfilled_on,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.salesorder}}
