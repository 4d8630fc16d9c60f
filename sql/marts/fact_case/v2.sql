/*
id: fact_case
version: 2
title: Service cases
description: One row per current service case (incident). owner_key relates to dim_user, account_key or contact_key (the customer) to dim_account or dim_contact, created_date to dim_date. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [case_key]
sources: [incident]
columns:
  case_key: String
  environment: String
  case_id: UUID
  ticket_number: String
  title: String
  owner_key: String
  owner_name: String
  account_key: String
  contact_key: String
  customer_name: String
  case_type_code: Int64
  case_type: String
  origin_code: Int64
  origin: String
  priority_code: Int64
  priority: String
  sla_status_code: Int64
  sla_status: String
  state_code: Int64
  state: String
  status_code: Int64
  status: String
  created_on: DateTime('UTC')
  created_date: Date
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(incidentid)) AS case_key,
    _environment AS environment,
    incidentid AS case_id,
    ifNull(ticketnumber, '') AS ticket_number,
    ifNull(title, '') AS title,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    if(ifNull(customeridtype, '') = 'account', ifNull(concat(_environment, '|', toString(customerid)), ''), '') AS account_key,
    if(ifNull(customeridtype, '') = 'contact', ifNull(concat(_environment, '|', toString(customerid)), ''), '') AS contact_key,
    ifNull(customeridname, '') AS customer_name,
    toInt64(ifNull(casetypecode, -1)) AS case_type_code,
    ifNull(casetypecodename, '') AS case_type,
    toInt64(ifNull(caseorigincode, -1)) AS origin_code,
    ifNull(caseorigincodename, '') AS origin,
    toInt64(ifNull(prioritycode, -1)) AS priority_code,
    ifNull(prioritycodename, '') AS priority,
    toInt64(ifNull(resolvebyslastatus, -1)) AS sla_status_code,
    ifNull(resolvebyslastatusname, '') AS sla_status,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.incident}}
