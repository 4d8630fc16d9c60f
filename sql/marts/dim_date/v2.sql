/*
id: dim_date
version: 2
title: Dates
description: One row per calendar day from 1970-01-01 (the date a missing date stands for in the facts) to the end of the fifth year after this one. Relate the facts' *_date columns to date. This year is the current year in the marts' time zone (marts.timezone).
key: [date]
sources: []
columns:
  date: Date
  year: Int64
  quarter: Int64
  quarter_name: String
  month: Int64
  month_name: String
  year_month: String
  month_start: Date
  week_start: Date
  day_of_month: Int64
  day_of_week: Int64
  day_name: String
  is_weekend: Int64
*/
SELECT
    d AS date,
    toInt64(toYear(d)) AS year,
    toInt64(toQuarter(d)) AS quarter,
    concat(toString(toYear(d)), '-Q', toString(toQuarter(d))) AS quarter_name,
    toInt64(toMonth(d)) AS month,
    ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'][toMonth(d)] AS month_name,
    substring(toString(d), 1, 7) AS year_month,
    toStartOfMonth(d) AS month_start,
    toMonday(d) AS week_start,
    toInt64(toDayOfMonth(d)) AS day_of_month,
    toInt64(toDayOfWeek(d)) AS day_of_week,
    ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'][toDayOfWeek(d)] AS day_name,
    toInt64(toDayOfWeek(d) >= 6) AS is_weekend
FROM
(
    SELECT arrayJoin(arrayMap(i -> toDate('1970-01-01') + i,
        range(toUInt32(toDate(concat(toString(toYear(toDate(now(), {{.TZ}})) + 5), '-12-31')) - toDate('1970-01-01') + 1)))) AS d
)
