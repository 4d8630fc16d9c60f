// Package scoring scores leads with versioned scoring models in the
// warehouse, and judges each model by a backtest against what became of
// the leads.
//
// # Models
//
// A model is a file sql/scoring/<id>/v<N>.yaml (built in, embedded) or
// <scoring.dir>/<id>/v<N>.yaml (the user's, read at run time). Loading,
// checksums, releases.lock and ID@vN references are package versioned's,
// as for KPI definitions: a released version never changes, a file not in
// the lock is a draft and its scores are marked draft. The file is decoded
// strictly and validated; a problem is one line, file:line: key: what to
// fix. The demo model sql/scoring/demo/v1.yaml shows every kind of rule.
//
//	id, version, title, description, owner, source   required; changes optional
//	decay: {half_life_days: 30}      points_each points halve every 30 days of age
//	grades:                          from the top down, min ≤ score < max; the top
//	  - {name: A, min: 45}           grade has no max, the bottom none no min, and
//	  - {name: B, min: 20, max: 45}  each max is the min of the grade above: no
//	  - {name: C, max: 20}           overlap, no gap, no impossible band
//	qualification: {marketing_qualified: 30, sales_ready: 55}   stage thresholds
//	backtest: {window_days: 365}     leads decided in the last 365 days (default)
//	rules: [rule…]                   rules outside any group
//	groups:                          rules whose points together are held
//	  - {name: fit, cap: 40, floor: -10, rules: [rule…]}    between floor and cap
//	combine:                         or: the weighted sum of other models' scores
//	  - {model: demo@v1, weight: 0.6}   (rule models, named with their version)
//
// A rule has a snake_case name, unique in the model, and points (negative
// ones take points away). A column rule names a lead column and one
// condition:
//
//	column: jobtitle, in: [CFO, Geschäftsführer]   equals: x | in: [x, y]
//	column: numberofemployees, range: {min: 500}    range: {min, max}: min ≤ value < max
//	column: subject, contains: CRM                  contains: text
//	column: emailaddress1, blank: true              present: true | blank: true
//
// Text compares without regard to case or to spaces around it; blank is
// NULL or only spaces. A choice (leadsourcecode) compares its option value
// (a number); its label is the text column <choice>name (leadsourcecodename).
// true/false columns take equals: true or false. A NULL never equals,
// contains or lies in a range. Money in a record's own currency
// (estimatedamount) is refused: rules read the _base column, in the
// organisation's base currency. A column must be one of Dataverse's lead
// columns (LeadColumns), or a custom one with its publisher prefix
// (new_rating); when the model runs, it must be a column of the lead view.
//
// An activity rule counts the lead's interactions: completed activities
// (statecode 1) regarding the lead, of the types it names (phonecall,
// email, appointment, task), at the moment they were done (actualend),
// before the moment the score is for, and within_days back from it when
// given (age ≤ within_days × 24 h). One condition:
//
//	count: {min: 1}                 the number of interactions lies in the range
//	days_since_last: {min: 60}      whole days since the latest one lie in the
//	                                range (a lead without one does not match)
//	points_each: 6                  each interaction adds points_each (instead of
//	                                points), times 0.5^(age in days ÷ half-life)
//	                                when the model decays
//
// # Scores
//
// A group's points are the sum of its rules' points held between floor
// and cap; the score is the sum of the ungrouped rules' and the groups'
// points, in the file's order (a combined model: the weighted sum of its
// models' scores). The grade is the band the score falls in; the stage is
// sales_ready from sales_ready up, marketing_qualified from
// marketing_qualified up, else not_qualified (empty without thresholds). The
// explanation of a score is the list of rules that fired with their
// points, and <group>:cap with the points a cap or floor took away or
// added: they add up to the score.
//
// Each model compiles to an INSERT … SELECT per environment of the lead
// landing table that runs in the warehouse on both engines (the embedded
// 26.7 and Debian's 18.16: no CTEs, no window functions, one JOIN per
// SELECT): the lead view's columns the rules read, joined to one
// aggregation of activitypointer per lead, both sides filtered to the
// environment (the landing tables are ordered by it, so each statement
// reads that environment's rows only). Per environment the aggregation and
// the join take leadid alone as their key, a UUID that hashes and
// compares faster than a pair with the environment; the join and the
// aggregation are most of what scoring costs beyond reading the columns
// (BenchmarkScoring). An environment a sync adds while a run lists them
// is scored by the next run. Without a landing table (a lead table made
// by hand) one statement joins on (environment, leadid).
//
// Lower-casing text costs about as much as reading it, so a column is
// lower-cased only for the rules that compare whole values (equals, in):
// present and blank read it trimmed, contains searches it
// case-insensitively as it is (trimmed when the searched text begins or
// ends with a space), with the same outcome. On engines with
// LowCardinality a column that equals and in compare and that has at most
// one distinct value in four among the first 65536 leads (a title, a
// country, a city, a source) is lower-cased through toLowCardinality, so
// lowerUTF8 and trimBoth run once per distinct value rather than per
// lead: the embedded engine's lowerUTF8 (ICU) costs more than reading the
// column, while making a column of mostly distinct values LowCardinality
// costs more than it saves (figures in run.go, lowCardinality).
// There the statement also selects environment, grade, stage and the
// rule names in lead_scores' LowCardinality types: the rule names are one
// constant dictionary, so the explanation of a lead copies a byte per rule
// rather than the rule's name, and the texts are encoded by the query's
// parallel streams rather than by the INSERT's one sink (on the 18.16
// server they are String, as the table there).
// There the statements also turn off the engine's JIT compilation of
// expressions (compile_expressions = 0): the embedded engine compiled the
// rules anew for many statements, on one thread before reading a row,
// and the compiled rules ran no faster than its vectorized functions.
// The scoring INSERT there writes through two sinks (max_insert_threads
// = 2), so that sorting, compressing and writing lead_scores' rows is not
// one thread's work at the statement's end (see insertSettings).
//
// # Tables
//
// Run writes every lead's score of every run to lead_scores (run id, time,
// as-of moment, environment, lead, model, version, checksum, draft, score,
// grade, stage, rules, points): a lead's score over time is a series. The
// view lead_score shows each model version's latest successful run, for
// marts and Power BI. score_runs has a row per run and model version,
// score_models the model files as run (sql/schema/0006_scoring.sql).
//
// # Backtest
//
// Each run also judges each model on the leads decided in the window
// [as-of − window_days, as-of): closed as qualified (statecode 1) or
// disqualified (2), scored as of their decision, so that nothing after it
// counts. What the warehouse can and cannot tell:
//
//   - The moment of the decision. Dataverse records none for a lead. A
//     closed lead is read-only in Dynamics 365, so its modifiedon is the
//     decision, unless the system changed it later (a lookup cleared when
//     the record it pointed at was deleted); a qualified lead's
//     opportunity (qualifyingopportunityid) is created at the
//     qualification. The decision is the earlier of the two.
//   - Interactions: exact. Only activities done before the decision count.
//   - Field values as they were at the decision: not reliably. The landing
//     table keeps a lead's earlier versions only until the engine merges
//     its parts (ReplacingMergeTree), and a lead decided before the first
//     sync has one version. The backtest takes the lead's current values;
//     as closed leads are read-only, they are the values at the decision
//     unless the lead was reopened.
//
// Per environment and grade the run counts decided and qualified leads
// (lead_score_backtest_grades), and per environment the counts of the area
// under the ROC curve (lead_score_backtest_auc: qualified and disqualified
// leads and the pairs the score orders right, ties half). The KPI
// catalog's lead_score_conversion_by_grade, lead_score_lift (the top
// grade's conversion over the bottom's: red when the top converts no
// better) and lead_score_auc read them
// (sql/kpis/lead_score_conversion_by_grade/v1.sql, and lead_score_lift and
// lead_score_auc beside it); BacktestKPIs names them. The report also
// counts, per rule, the decided leads it fired for and how many of them
// were qualified: a rule whose leads convert worse than the rest gives
// points it should take (Backtest.Rules).
package scoring
