// Package cockpit is Ampel's web front end: traffic lights for the
// Dynamics 365 rollout, the data stewards' pages and the sync status,
// served beside the OData feed by the same serve.Server (Mount) at / and
// /cockpit/.
//
// Pages (all server-rendered with html/template; the templates, one CSS
// file and one small script are embedded with go:embed, charts are SVG
// drawn here, so nothing is loaded from elsewhere and the cockpit works
// offline):
//
//   - / and /cockpit/: the management view, one line per rollout phase,
//     aggregated over environments: the worst status of the latest period
//     of every KPI of the phase in the latest KPI run (per KPI and
//     environment only the newest period: a weekly hypercare trend counts
//     with its current week, not with every past week), the counts per
//     status, and the phase's core KPIs (the strategic ones first, then
//     tactical, then operational; at most three) — the seed's "few core
//     KPIs per phase first".
//   - /cockpit/lead: the project-lead view, every KPI per environment and
//     dimension with the status of its latest period, a sparkline of its
//     history (the values per period of the latest run; for a KPI with one
//     period, its value per run) and the definition version (v1 → v2 when
//     the history spans several).
//   - /cockpit/kpi/{id}: one KPI: value, status, thresholds, numerator and
//     denominator, history chart, every version of the definition side by
//     side (metadata and SQL), the inputs and sync runs it used.
//   - /cockpit/findings: the audit's open findings, counted by rule with
//     the new and resolved of the last run, listed with filters (rule,
//     environment, table, severity, status, mark, found or resolved in
//     the last run); /cockpit/groups the
//     duplicate groups of a rule with the members side by side and the
//     fields they share highlighted, each linked to its record in
//     Dynamics; review actions (reviewed, not a duplicate, will fix,
//     comment) call audit.MarkFinding, as ampel audit review does.
//   - /cockpit/sync: the last sync run per environment and table, with
//     hints for errors, and the tables synced without change tracking.
//
// A period is shown on its days in the time zone its KPI run cut it in
// (kpi_runs.timezone, from kpis.timezone): a Berlin October starts on
// 1 October. Times of day and the CSV files are UTC.
//
// Every list is also CSV (the same URL with .csv before the query). Every
// read runs under warehouse.ReadOnly; the review action is the only
// write.
//
// Access: the feed's keys. /cockpit/login takes a key (CheckKey) and sets
// a session cookie: HttpOnly, SameSite=Strict, Secure when served over
// TLS, whose value is the key's name and an expiry signed with HMAC-SHA256
// under a secret made at start (Options.Secret) — never the key. Sessions
// last Options.SessionTTL (12 h) and end when the process restarts. A page
// without a valid session redirects to the login form. Every POST but the
// login carries a CSRF token, an HMAC of the session, checked in constant
// time. Responses carry a Content-Security-Policy that allows this
// origin's script and styles only.
//
// Labels are German or English: the lang cookie set by the switch in the
// header, else the request's Accept-Language (messages.go holds the
// catalog).
package cockpit
