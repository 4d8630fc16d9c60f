/*
id: payback_period
version: 1
title: Payback period
description: Months from the first cost until the cumulative benefit reaches the cumulative cost.
owner: Management
level: strategic
phase: finance
type: value
unit: months
direction: lower_better
thresholds:
  green: "<= 24"
  amber: "<= 36"
grain: snapshot
inputs: [costs, benefits]
counting: >-
  Costs (but marketing) and benefits of the inputs file by month, up to and including the
  month of the run's as-of day. Counting from the first month with a cost or benefit as month
  1, the payback period is the first month whose cumulative benefit is at least the
  cumulative cost. Not reached yet: no value (status none).
formula: first month n with Σ benefits(1..n) ≥ Σ costs(1..n)
source: KPI-NOTES.md §6 (payback period); MISSION.md finance
*/
SELECT
    environment,
    if(reached = 0, NULL, toFloat64(toRelativeMonthNum(months[reached]) - toRelativeMonthNum(months[1]) + 1)) AS value
FROM
(
    SELECT
        environment,
        arraySort(groupArray(month)) AS months,
        arrayFirstIndex(x -> x >= 0, arrayCumSum(arraySort((n, m) -> m, groupArray(net), groupArray(month)))) AS reached
    FROM
    (
        SELECT environment, month, sumIf(amount, kind = 'benefit') - sumIf(amount, kind = 'cost') AS net
        FROM kpi_input_money
        WHERE run_id = {{.Run}} AND month <= toStartOfMonth(toDate({{.AsOf}}, {{.TZ}}))
            AND NOT (kind = 'cost' AND category = 'marketing')
        GROUP BY environment, month
    )
    GROUP BY environment
)
