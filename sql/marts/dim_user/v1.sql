/*
id: dim_user
version: 1
title: Users
description: One row per current Dataverse user (systemuser). The facts' owner_key relates to user_key.
key: [user_key]
sources: [systemuser]
columns:
  user_key: String
  environment: String
  user_id: UUID
  full_name: String
  first_name: String
  last_name: String
  email: String
  domain_name: String
  business_unit: String
  is_disabled: Int64
  created_on: DateTime('UTC')
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(systemuserid)) AS user_key,
    _environment AS environment,
    systemuserid AS user_id,
    ifNull(fullname, '') AS full_name,
    ifNull(firstname, '') AS first_name,
    ifNull(lastname, '') AS last_name,
    ifNull(internalemailaddress, '') AS email,
    ifNull(domainname, '') AS domain_name,
    ifNull(businessunitidname, '') AS business_unit,
    toInt64(ifNull(isdisabled, 0)) AS is_disabled,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.systemuser}}
