// Package audit finds data-quality problems in the warehouse for data stewards: duplicates
// (Dynamics-like exact rules, and fuzzy matching that finds what those rules cannot),
// incomplete and invalid records, breaks in the sales process, stale records and personal
// data kept too long — as findings with stable ids that a steward reviews.
//
// # Rules
//
// Every check is a rule file, versioned and checksum-locked through package versioned:
// sql/audits/<id>/v<N>.yaml or .sql (built in, embedded; released in sql/audits/
// releases.lock) and the user's own in the config's audit.dir, beside them. A released
// file never changes: a change is a new version, and a finding's id includes the version.
// LoadCatalog reads them; Configure does it from the config. The header of every rule
// (Definition) has id, version, title, description, severity (error, warning, info), kind
// and table (or tables, for an sql rule that checks several). The kinds:
//
//   - duplicate_rule (.yaml): a Dynamics-like duplicate detection rule — conditions with
//     operator exact, same_first_characters, same_last_characters (characters: N),
//     same_date, same_date_and_time, choice_label or choice_value, ignore_blank;
//     case_sensitive, exclude_inactive, time_zone. See Rule. Built in: Dynamics' out-of-the-
//     box rules (account_same_name, account_same_email, contact_same_email,
//     lead_same_email).
//   - duplicate_model (.yaml): the fuzzy matcher's settings for a table — fields (name,
//     columns, kind first_name, last_name, email, phone, company, city or website, and the
//     weights exact_min, exact_max, close, different), threshold, max_block,
//     max_token_count, max_group. See Model. Built in: fuzzy_lead, fuzzy_contact,
//     fuzzy_account.
//   - sql (.sql): a YAML header in a leading /* */ comment (with optional params: name →
//     value), then one SELECT, a text/template rendered once per table, that returns a row
//     per finding. Built in: incomplete_record (the critical fields of the completeness
//     KPIs); invalid_email, invalid_phone (the validity_rate KPI's tests), invalid_postcode,
//     implausible_date, negative_amount, unknown_choice (a value the option set does not
//     have: no label), dangling_lookup (a lookup to a record that is not in the warehouse);
//     won_opportunity_without_quote, order_without_invoice (after params.days),
//     invoice_total_differs, quote_revision_out_of_order; opportunity_past_close_date,
//     overdue_activity; retention_expired (no activity for audit.retention_days).
//
// The result of an sql rule's statement, by column name: environment and record_id
// (required); field (the field it is about; empty for the whole record); detail (what is wrong, in
// words); value (the value of field) and value_<name> columns (more values that triggered
// it); record_table (the table the record link names when it is not the rule's, e.g. an
// activity's type). Every value is kept as text. The template sees {{.Dialect}}, {{.Now}}
// (a DateTime literal of the audit's moment), {{.Table}}, {{.Key}}, {{.Columns}},
// {{.DateColumns}}, {{.MoneyColumns}}, {{.ChoiceColumns}}, {{.CriticalFields}},
// {{.Params}}, {{.RetentionDays}} and {{.Views}} (see checkData), and the functions ident,
// words, has, columns and lookups (see checkFuncs). A statement that renders to nothing
// (a view it needs is not synced) skips the table. Statements run on both engines: the
// embedded 26.7 and Debian's 18.16 server — no CTEs, no window functions, one JOIN per
// SELECT written ALL/ANY with aliased subqueries, no trimBoth or leftUTF8.
//
// # Findings and runs
//
// Run runs the rules and writes what it found. A Finding is one problem of one record (and
// field) under one rule version; its id (FindingID) is a hash of rule id, rule version,
// environment, table, record id and field, so it stays the same across runs — the
// environment is in it because a copied environment keeps its records' GUIDs. A duplicate
// rule makes a finding per member of each group, carrying the group's id (a hash of its
// sorted members); when a record's group changes, the finding says which group it
// supersedes. Each finding has its first and last seen moments, the field values that
// triggered it, and a link to the record in Dynamics (RecordLink:
// <org url>/main.aspx?etn=<table>&id=<guid>&pagetype=entityrecord). A finding open before
// and not found now is resolved — only for rules and tables that ran, in the environments
// audited. dq_findings (sql/schema/0007_audit_findings.sql) gets a row per open and per
// resolved finding each run; dq_findings_current shows each finding's latest state;
// dq_run_rules has per run, rule, table and environment the records looked at, findings,
// new, resolved, groups and excess records; dq_runs one row per run. The trend of a rule
// is its open findings over the last TrendRuns runs. The duplicate_density KPI (v2) reads
// dq_run_rules.
//
// # Exact rules (what Dynamics does)
//
// A Rule mirrors a Dynamics 365 duplicate detection rule (duplicaterule and its
// duplicateruleconditions): conditions of exact match, same first N or last N characters,
// same date, same date and time, choice label or value; case-insensitive unless the rule
// says otherwise; blanks ignored where the condition says so (always in a rule of one
// condition); all conditions ANDed; optionally active records only. Records that share the
// rule's matchcode are duplicates, so an organisation's own rules give the groups Dynamics
// would find. DefaultRules are the out-of-the-box ones (see there); ParseDataverseRules reads
// an organisation's own from the Web API's JSON (GET
// duplicaterules?$expand=DuplicateRule_DuplicateRuleConditions).
//
// # Fuzzy matching (what Dynamics cannot)
//
// A Model is a fuzzy rule for one table, in the usual record-linkage shape:
//
//  1. Normalise each field once: e-mail trimmed and lower-cased (NormalizeEmail); phone to
//     E.164 digits with the environment's default country (NormalizePhone,
//     Options.CountryCodes); company without legal forms and punctuation
//     (NormalizeCompany); names and towns folded — lower case, German transliteration
//     (ü → ue, ß → ss) before the other diacritics go (Fold) — with their Kölner Phonetik
//     code (Koelner).
//  2. Block: only records that share a blocking key are compared — the e-mail, a phone
//     number, the website, the company name (accounts), a distinctive word of the company
//     name or a distinctive e-mail domain (for people together with the phonetic code of the
//     first or the last name). Keys are OR-ed; a key shared by more than Model.MaxBlock
//     records makes no pairs. Each key's blocks stay small as a table grows, so the pairs
//     compared grow with the records (Stats.PairsCompared; see the benchmark), never as a
//     self-join would.
//  3. Compare each candidate pair field by field into a Level — exact, close (Jaro–Winkler,
//     optimal-string-alignment Damerau–Levenshtein, the same Kölner code, another format of
//     the same number), different, or blank — and detect swapped first and last names.
//  4. Score: the sum of the fields' weights for their levels. The weight of an exact
//     agreement on a name, an e-mail or a company is term-frequency adjusted (agreeing on
//     a name many records have weighs less than on a rare one), and a gate keeps one shared
//     value from making a match: for people the names must agree (or the e-mail), for
//     companies the name. A pair matches when it passes the gate and reaches the threshold.
//  5. Cluster: matched pairs form groups by connected components, strongest pair first, where
//     two parts join only if every record of one fits every record of the other (see
//     cluster), so A~B and B~C do not join A and C when they plainly differ.
//
// Every Group lists every member with the values the rule looked at and the Links that
// joined them: per field the level, the weight and both values, and the score. A group's id
// is a hash of its table, environment and sorted member ids: stable while the members stay.
//
// # Reviews
//
// A steward marks a finding, a group or a pair reviewed, not a duplicate, or will fix
// (MarkFinding by a finding's or group's id, RecordReview; table dq_reviews from
// sql/schema/0005_audit.sql); the latest mark per target counts, and the marks survive
// re-runs. Records marked not a duplicate are never grouped together again, by either
// kind of rule, so the duplicate density drops with the marks; a finding of a group
// marked not a duplicate takes its record out of the group (a pair mark with each other
// member). A finding carries the latest of the marks on it, on its group, and on a group
// its group supersedes with the members that mark covered still in it; MarkFinding writes
// the marked findings anew, so dq_findings shows a mark at once.
//
// # Where the work runs
//
// The sql rules run in the engine. The duplicate matching runs in Go over the needed
// columns streamed once from the current-state views
// (one SELECT per table; merged records — merged = true — are left out). The fuzzy functions
// and the normalisers exist only on the modern engine (jaroWinklerSimilarity and
// editDistanceUTF8 from 24.x, normalizeUTF8NFKCCasefold from 26.3); the 18.16 server lacks
// them and even leftUTF8 and trimBoth, and no engine has Kölner Phonetik. Running the
// comparison in Go gives the same groups on both engines by construction. Measured by
// BenchmarkDuplicates (figures in the README): at 1M leads the pairs compared are about
// 10⁵ per table against n²/2 ≈ 6·10¹¹, and CPU time and pairs grow about tenfold from 100k
// to 1M leads; the matching costs about three times a plain read of the same columns in CPU,
// most of it normalising and blocking, and the audit's memory is that of the table's columns
// held once (about 1.2 GB peak RSS at 1M leads, the engine's read 0.4 GB of it).
//
// Measured against the simulator's planted truth (connector/dvsim: duplicate groups with
// realistic noise, and look-alikes that are not duplicates) in duplicates_test.go, on both
// engines.
package audit
