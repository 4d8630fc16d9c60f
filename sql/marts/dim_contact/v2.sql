/*
id: dim_contact
version: 2
title: Contacts
description: One row per current contact, with its labels. The facts' contact_key relates to contact_key; account_key is the contact's company when it is an account. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [contact_key]
sources: [contact]
columns:
  contact_key: String
  environment: String
  contact_id: UUID
  full_name: String
  first_name: String
  last_name: String
  job_title: String
  email: String
  telephone: String
  city: String
  postal_code: String
  account_key: String
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
    concat(_environment, '|', toString(contactid)) AS contact_key,
    _environment AS environment,
    contactid AS contact_id,
    ifNull(fullname, '') AS full_name,
    ifNull(firstname, '') AS first_name,
    ifNull(lastname, '') AS last_name,
    ifNull(jobtitle, '') AS job_title,
    ifNull(emailaddress1, '') AS email,
    ifNull(telephone1, '') AS telephone,
    ifNull(address1_city, '') AS city,
    ifNull(address1_postalcode, '') AS postal_code,
    if(ifNull(parentcustomeridtype, '') = 'account', ifNull(concat(_environment, '|', toString(parentcustomerid)), ''), '') AS account_key,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.contact}}
