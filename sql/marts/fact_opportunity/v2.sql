/*
id: fact_opportunity
version: 2
title: Opportunities
description: One row per current opportunity, with the labels of its choices. owner_key relates to dim_user, account_key to dim_account, contact_key to dim_contact, lead_key to fact_lead (the lead it came from), created_date to dim_date. Amounts are in the base currency; a missing close date is empty. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [opportunity_key]
sources: [opportunity]
columns:
  opportunity_key: String
  environment: String
  opportunity_id: UUID
  name: String
  owner_key: String
  owner_name: String
  account_key: String
  contact_key: String
  lead_key: String
  sales_stage_code: Int64
  sales_stage: String
  step: String
  close_probability: Int64
  state_code: Int64
  state: String
  status_code: Int64
  status: String
  estimated_value: Decimal(19, 4)
  actual_value: Decimal(19, 4)
  estimated_close_date: Nullable(Date)
  actual_close_date: Nullable(Date)
  created_on: DateTime('UTC')
  created_date: Date
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(opportunityid)) AS opportunity_key,
    _environment AS environment,
    opportunityid AS opportunity_id,
    ifNull(name, '') AS name,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    ifNull(concat(_environment, '|', toString(parentaccountid)), '') AS account_key,
    ifNull(concat(_environment, '|', toString(parentcontactid)), '') AS contact_key,
    ifNull(concat(_environment, '|', toString(originatingleadid)), '') AS lead_key,
    toInt64(ifNull(salesstage, -1)) AS sales_stage_code,
    ifNull(salesstagename, '') AS sales_stage,
    ifNull(stepname, '') AS step,
    toInt64(ifNull(closeprobability, 0)) AS close_probability,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    ifNull(estimatedvalue_base, toDecimal128(0, 4)) AS estimated_value,
    ifNull(actualvalue_base, toDecimal128(0, 4)) AS actual_value,
    estimatedclosedate AS estimated_close_date,
    actualclosedate AS actual_close_date,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.opportunity}}
