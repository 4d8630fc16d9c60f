/*
id: dim_account
version: 2
title: Accounts
description: One row per current account, with its labels. The facts' account_key relates to account_key; revenue is in the base currency. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [account_key]
sources: [account]
columns:
  account_key: String
  environment: String
  account_id: UUID
  name: String
  account_number: String
  city: String
  country: String
  postal_code: String
  industry_code: Int64
  industry: String
  number_of_employees: Int64
  revenue: Decimal(19, 4)
  parent_account_key: String
  primary_contact_key: String
  owner_key: String
  owner_name: String
  state_code: Int64
  state: String
  status_code: Int64
  status: String
  created_on: DateTime('UTC')
  created_date: Date
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(accountid)) AS account_key,
    _environment AS environment,
    accountid AS account_id,
    ifNull(name, '') AS name,
    ifNull(accountnumber, '') AS account_number,
    ifNull(address1_city, '') AS city,
    ifNull(address1_country, '') AS country,
    ifNull(address1_postalcode, '') AS postal_code,
    toInt64(ifNull(industrycode, -1)) AS industry_code,
    ifNull(industrycodename, '') AS industry,
    toInt64(ifNull(numberofemployees, 0)) AS number_of_employees,
    ifNull(revenue_base, toDecimal128(0, 4)) AS revenue,
    ifNull(concat(_environment, '|', toString(parentaccountid)), '') AS parent_account_key,
    ifNull(concat(_environment, '|', toString(primarycontactid)), '') AS primary_contact_key,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.account}}
