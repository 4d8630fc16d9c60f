// Package kpis computes Ampel's versioned KPIs on the warehouse and judges
// them green, amber or red.
//
// # Definitions
//
// A KPI is a file sql/kpis/<id>/v<N>.sql (built in, embedded) or
// <kpis.dir>/<id>/v<N>.sql (the user's, read at run time): a YAML header in
// a leading /* … */ comment, then one SELECT that is a text/template.
// Loading, checksums, the releases.lock and ID@vN references are package
// versioned's; this package decodes the header into a Definition (every
// key is listed there), strictly, and validates it: a problem is one line,
// file:line: key: what to fix. A released definition that changed refuses
// to load with both checksums. Drafts run; their results have draft = 1.
//
// # The SQL result contract
//
// The statement returns one row per environment, period and dimension
// value, with these columns by name (order does not matter):
//
//	environment               String: the _environment of the rows counted
//	period_start, period_end  Date or DateTime: the period the row covers;
//	                          a grain snapshot KPI may leave both out (the
//	                          period is then the run's as-of moment)
//	dim_<name>                one per declared dimension, any type (kept as text)
//	numerator, denominator    type ratio: two numbers; the engine divides
//	value [, denominator]     type value: the number; denominator, if given,
//	                          counts the observations the value rests on
//
// SQL never divides: Go computes value = scale × numerator / denominator
// (scale 100 for the units percent, per_100_users and points), so a zero
// denominator is status none with no value — never a division error, never
// a fake 0 — and Power BI can re-aggregate ratios from kpi_results. A
// denominator below min_denominator is status none too, with no value; the
// numerator and denominator are still stored so the count it rests on is
// shown.
//
// Templates see {{.Dialect}} (warehouse.Dialect.TemplateData), {{.AsOf}}
// (a DateTime literal of the run's as-of moment), {{.TZ}} (the time-zone
// literal periods are cut in, config kpis.timezone, default 'UTC'),
// {{.Run}} (the run id literal; the kpi_input_* tables hold the inputs of
// each run under it), {{.CriticalFields}} (a list of TableFields: the
// critical fields of each synced table) and {{.ActivityTables}} (the synced
// views of ActivityTables), and the function ident. The SQL runs on both engines: the embedded 26.7 and
// Debian's 18.16 server — no CTEs, no window functions, one JOIN per
// SELECT (nest subqueries), no trimBoth/leftUTF8; where a dialect needs its
// own form, {{if .Dialect.ModernSQL}} chooses, and both are tested.
//
// # Snapshots
//
// A current-state view collapses record versions with FINAL at every read,
// and the catalog reads lead, contact, opportunity, … in many KPIs. So Run
// first renders every KPI it runs, and each landing view that two or more
// of them read (a name after FROM or JOIN; warehouse.StatementReads) it
// copies once into a run-scoped Memory table, kpi_src_<8 hex>_<view>,
// with only the columns those statements name (every column when one
// selects *). The statements then read the snapshot under the view's name
// (warehouse.ReplaceTables: FROM lead becomes FROM `kpi_src_…_lead` AS
// lead); the definition files do not change and their checksums hold. At
// its end, also when it fails, the run drops the snapshots; one a killed
// run left is dropped by the first run that finds it older than
// SnapshotMaxAge (a Memory table holds its rows in memory until dropped). All KPIs of a
// run thus see the same moment of each table, even while a sync writes. A
// snapshot that cannot be taken is logged, and its view read directly.
// Report.Snapshots lists the snapshotted views.
//
// # Counting rules shared by the catalog
//
//   - Current-state views only (tombstones excluded); environment is always
//     a dimension, never mixed.
//   - Money sums use the _base columns (the organisation's base currency).
//   - A median is quantileExact(0.5): with an even count, the upper of the
//     two middle values (the same on 18.16 and 26.7).
//   - Periods (weeks from Monday, months, days after go-live) are cut in
//     kpis.timezone; a week after go-live is [go-live + 7k days, + 7 days),
//     in calendar days from go-live's midnight there (across a DST change
//     an hour longer or shorter). The as-of day and month, a record's month
//     and the start of a date-only column are taken in that zone too;
//     windows measured back from the as-of moment are not.
//   - Blank means NULL or only whitespace.
//
// # Status
//
// thresholds.green and thresholds.amber are comparisons with the included
// side written out (">= 95", "< 3"); a value meeting green is green, else
// one meeting amber is amber, else red. Without thresholds, and without a
// value, the status is none.
//
// # Results
//
// Run writes every result to kpi_results (run id, KPI id, version,
// checksum, draft, environment, period, dimensions, value, numerator,
// denominator, unit, status, the sync runs that last loaded the source
// tables), one row per run to kpi_runs, and the definitions it ran to
// kpi_definitions; the inputs file goes to the kpi_input_* tables under the
// run id (sql/schema/0003_kpis.sql). Every run is kept.
//
// # Inputs
//
// What Dataverse does not hold — go-live dates, licensed users, costs and
// benefits, surveys, key-user training, data migration counts, milestones,
// partners — comes from the inputs file (Inputs, LoadInputs; example:
// kpis/inputs.example.yaml). A KPI names the keys it needs; without them, or
// when one of its source views is not synced, it is skipped and the run's
// note says what is missing.
//
// The catalog page docs/kpis.md is generated from the definitions
// (WriteCatalogPage; make kpi-docs) and a test fails when it is stale.
package kpis
