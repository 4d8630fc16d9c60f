/*
id: fact_lead
version: 2
title: Leads
description: One row per current lead, with the labels of its choices. owner_key relates to dim_user, account_key to dim_account, contact_key to dim_contact, opportunity_key to fact_opportunity (the opportunity it was qualified into), created_date to dim_date. estimated_amount is in the base currency. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [lead_key]
sources: [lead]
columns:
  lead_key: String
  environment: String
  lead_id: UUID
  topic: String
  full_name: String
  company_name: String
  email: String
  city: String
  country: String
  owner_key: String
  owner_name: String
  account_key: String
  contact_key: String
  opportunity_key: String
  source_code: Int64
  source: String
  quality_code: Int64
  quality: String
  industry_code: Int64
  industry: String
  state_code: Int64
  state: String
  status_code: Int64
  status: String
  estimated_amount: Decimal(19, 4)
  created_on: DateTime('UTC')
  created_date: Date
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(leadid)) AS lead_key,
    _environment AS environment,
    leadid AS lead_id,
    ifNull(subject, '') AS topic,
    ifNull(fullname, '') AS full_name,
    ifNull(companyname, '') AS company_name,
    ifNull(emailaddress1, '') AS email,
    ifNull(address1_city, '') AS city,
    ifNull(address1_country, '') AS country,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    ifNull(concat(_environment, '|', toString(parentaccountid)), '') AS account_key,
    ifNull(concat(_environment, '|', toString(parentcontactid)), '') AS contact_key,
    ifNull(concat(_environment, '|', toString(qualifyingopportunityid)), '') AS opportunity_key,
    toInt64(ifNull(leadsourcecode, -1)) AS source_code,
    ifNull(leadsourcecodename, '') AS source,
    toInt64(ifNull(leadqualitycode, -1)) AS quality_code,
    ifNull(leadqualitycodename, '') AS quality,
    toInt64(ifNull(industrycode, -1)) AS industry_code,
    ifNull(industrycodename, '') AS industry,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    ifNull(estimatedamount_base, toDecimal128(0, 4)) AS estimated_amount,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.lead}}
