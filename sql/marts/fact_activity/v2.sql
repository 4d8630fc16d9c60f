/*
id: fact_activity
version: 2
title: Activities
description: One row per current activity (activitypointer - phone calls, e-mails, tasks, appointments). owner_key relates to dim_user; the record it is about relates through the one of lead_key, opportunity_key, account_key, contact_key or case_key its regarding_table names; created_date to dim_date. Its dates (*_date) are days in the marts' time zone (marts.timezone); its times are UTC instants.
key: [activity_key]
sources: [activitypointer]
columns:
  activity_key: String
  environment: String
  activity_id: UUID
  activity_type: String
  subject: String
  owner_key: String
  owner_name: String
  regarding_table: String
  regarding_name: String
  lead_key: String
  opportunity_key: String
  account_key: String
  contact_key: String
  case_key: String
  priority_code: Int64
  priority: String
  state_code: Int64
  state: String
  status_code: Int64
  status: String
  scheduled_start: Nullable(DateTime('UTC'))
  scheduled_end: Nullable(DateTime('UTC'))
  actual_end: Nullable(DateTime('UTC'))
  created_on: DateTime('UTC')
  created_date: Date
  modified_on: DateTime('UTC')
*/
SELECT
    concat(_environment, '|', toString(activityid)) AS activity_key,
    _environment AS environment,
    activityid AS activity_id,
    ifNull(activitytypecode, '') AS activity_type,
    ifNull(subject, '') AS subject,
    if(ifNull(owneridtype, '') = 'systemuser', ifNull(concat(_environment, '|', toString(ownerid)), ''), '') AS owner_key,
    ifNull(owneridname, '') AS owner_name,
    ifNull(regardingobjectidtype, '') AS regarding_table,
    ifNull(regardingobjectidname, '') AS regarding_name,
    if(ifNull(regardingobjectidtype, '') = 'lead', ifNull(concat(_environment, '|', toString(regardingobjectid)), ''), '') AS lead_key,
    if(ifNull(regardingobjectidtype, '') = 'opportunity', ifNull(concat(_environment, '|', toString(regardingobjectid)), ''), '') AS opportunity_key,
    if(ifNull(regardingobjectidtype, '') = 'account', ifNull(concat(_environment, '|', toString(regardingobjectid)), ''), '') AS account_key,
    if(ifNull(regardingobjectidtype, '') = 'contact', ifNull(concat(_environment, '|', toString(regardingobjectid)), ''), '') AS contact_key,
    if(ifNull(regardingobjectidtype, '') = 'incident', ifNull(concat(_environment, '|', toString(regardingobjectid)), ''), '') AS case_key,
    toInt64(ifNull(prioritycode, -1)) AS priority_code,
    ifNull(prioritycodename, '') AS priority,
    toInt64(ifNull(statecode, -1)) AS state_code,
    ifNull(statecodename, '') AS state,
    toInt64(ifNull(statuscode, -1)) AS status_code,
    ifNull(statuscodename, '') AS status,
    scheduledstart AS scheduled_start,
    scheduledend AS scheduled_end,
    actualend AS actual_end,
    ifNull(createdon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS created_on,
    ifNull(toDate(createdon, {{.TZ}}), toDate('1970-01-01')) AS created_date,
    ifNull(modifiedon, toDateTime('1970-01-01 00:00:00', 'UTC')) AS modified_on
FROM {{.From.activitypointer}}
