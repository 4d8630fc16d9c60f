// Package dvsim is a Dataverse simulator, like net/http/httptest for the Dataverse Web API.
//
// Start generates a deterministic data set from Options.Seed (Scale leads, the other tables
// in proportion: users N/200 (min 5) plus one application user for the client, ~0.35N
// accounts and contacts, ~0.3N opportunities from qualified leads, quotes with revisions,
// orders from won quotes, invoices (paid, partial, cancelled, open), ~1.3N activities regarding
// leads and opportunities, N/50 cases rising after GoLive and falling off; one record in five
// with a money column is in a second currency, exchangerate 1.25, so its _base amounts are the
// amounts ÷ 1.25 — transactioncurrencyid still names one currency: VERIFY; then the planted
// duplicate groups and look-alikes of dups.go, about 0.09N leads, 0.03N contacts and 0.05N
// accounts from a random stream of their own; then, from another stream, what the audit's
// other checks look for: see plantQuality) and serves it over
// HTTPS at URL()+"/api/data/v9.2/". Records are stored column-wise (no map per row) and
// rendered to JSON on the fly. As Dataverse's rowversion, versionnumber follows modifiedon
// across all tables: the generated rows are numbered 1…N in the order of their modifiedon
// (renumberVersions), and every later change takes the next number.
//
// Leads are decided by planted features, for lead scoring (scoring.go): each has a company
// size, industry and country besides job title, source and amount, and 0 to 4 completed
// interactions (phone calls, emails, an appointment) before its decision; whether a decided
// lead is qualified depends on some of these (decision maker, size, amount, referral, calls,
// meetings help; trade show hurts) and not on others (industry, country, emails).
//
// Auth: an Entra-ID-like authority at Authority(): /v2.0/.well-known/openid-configuration,
// /oauth2/v2.0/token (client_credentials with client_secret, or client_assertion signed by a
// certificate registered with AddCertificate; RS256+x5t or PS256+x5t#S256),
// /discovery/v2.0/keys, and /common/discovery/instance. MSAL Go must be created with
// confidential.WithInstanceDiscovery(false) and WithHTTPClient(s.Client()). Tokens are RS256
// JWTs with aud = URL(); the API answers 401 with WWW-Authenticate otherwise. Refusals as
// Entra ID and Dataverse give them: a wrong secret is 401 invalid_client AADSTS7000215, an
// unknown client 400 AADSTS700016, any other tenant segment than TenantID() 400
// invalid_tenant AADSTS90002 (discovery and token endpoints), a /.default scope of another
// URL than URL() 400 invalid_resource AADSTS500011 (the resource principal was not found
// in the tenant: a wrong environment URL); Faults.NoAppUser answers
// every API call 403 0x80072560 ("not a member of the organization"), and
// Faults.NoReadPrivilege reads of the listed tables 403 0x80040220 (missing prvRead…).
//
// Web API: entity sets leads, opportunities, quotes, salesorders, invoices, activitypointers,
// phonecalls, emails, tasks, appointments, incidents, systemusers, accounts, contacts;
// <set>(<guid>), <set>/$count, WhoAmI, RetrieveTotalRecordCount, EntityDefinitions (forms listed on serveMetadata),
// duplicaterules (with $expand=DuplicateRule_DuplicateRuleConditions; duprules.go).
// Query options $select, $filter, $orderby, $top, $count; Prefer odata.maxpagesize (≤5000),
// odata.include-annotations (pattern list), odata.track-changes. Paging follows
// @odata.nextLink with a $skiptoken paging cookie; tracking ends with @odata.deltaLink
// ($deltatoken=<version>!<MM/dd/yyyy HH:mm:ss>); deltas give changed rows by version, then
// $deletedEntity entries. Choices made where Dataverse is unverified are marked VERIFY.
// With a request limit set, answers carry x-ms-ratelimit-burst-remaining-xrm-requests (the
// requests left in the window) and x-ms-ratelimit-time-remaining-xrm-requests (always the
// full 1,200,000 ms: execution time is not simulated), as Dataverse sends them.
//
// Ordered paging: the sorted rows of an $orderby query are kept (a few queries, keyed by
// table, $filter, $orderby and data version), so a walk sorts once; a change between pages
// sorts again, as Dataverse re-evaluates the query (rows may then move between pages).
//
// Delta tokens expire (400, 0x80044352) when older than Options.ChangeRetention (default 7
// days, Dataverse's ExpireChangeTrackingInDays) by Options.Clock, measured from the token's
// timestamp; after ExpireDeltaTokens; and, for one table, when they predate the last time
// its change tracking was turned on. Change tracking is off for Faults.NoChangeTracking at
// Start; later only SetChangeTracking or SetFaults with a non-nil NoChangeTracking (which
// then sets every table: listed off, others on) change it.
//
// Truth (GET /_sim/truth, Server.Truth) is computed over live rows:
//
//	now, go_live
//	tables.<logicalname>.count                    live rows
//	duplicates.<logicalname> = [{kind, ids}]       the true duplicate groups of lead, contact and
//	                                               account, 2 to 4 live records each: pairs planted
//	                                               beside generated records (kind exact, case,
//	                                               whitespace, phone, typo or suffix) and noisy
//	                                               groups of their own (dups.go; kind names the
//	                                               noise, "+"-joined: case, whitespace,
//	                                               phone_format, legal_form, transliteration, typo,
//	                                               swapped_names, missing_field, website_format,
//	                                               exact). A deleted record, or one merged into
//	                                               another (merged = true), leaves its group; a
//	                                               group left with one record is gone. Generated
//	                                               records are distinct people and companies, so
//	                                               these are all the groups.
//	lookalikes.<logicalname> = [{kind, ids}]       pairs that look alike and are no duplicates:
//	                                               same_name_other_company,
//	                                               same_company_other_person, family_shared_phone
//	                                               (lead, contact), same_word_other_business,
//	                                               similar_name (account)
//	completeness.<logicalname>.<field>            share of live rows with a non-blank value
//	                                               (leads: email ~95 %, phone ~92 %, company 98 %)
//	invalid.<logicalname>.<field> = [ids]         planted invalid emails (~1.5 %) and phones (~1 %)
//	                                               of leads, postcodes (~1 %) of leads, contacts
//	                                               and accounts
//	retention.<lead|contact> = {policy, cutoff, ids}  inactive and unmodified for 2 years
//	won_revenue_by_month.<YYYY-MM>               sum of actualvalue of won opportunities
//	tickets_per_week_after_go_live[i]            cases created in week i after go-live (no merged)
//	active_users_by_month.<YYYY-MM>              users who created or modified a record
//	users {licensed, active_last_28_days, never_active}
//	conversions {leads_open, leads_qualified, leads_disqualified, lead_conversion_rate,
//	             opportunities_open, opportunities_won, opportunities_lost, win_rate,
//	             quotes_non_revised, quotes_with_order, quote_to_order_rate,
//	             sales_cycle_median_days}
//	overdue_activities.<type>                    open activities due before now
//	incomplete.<logicalname> = [ids]             records with a blank critical field (KPICriticalFields)
//	inactive.<lead|contact> = {policy, cutoff, ids}  no activity for RetentionDays: the latest of
//	                                               the record's modifiedon and the actualend and
//	                                               modifiedon of live activities regarding it
//	implausible_dates.<logicalname>.<field>      dates more than 30 years after now
//	negative_amounts.<logicalname>.<field>       money below zero
//	unknown_choices.<logicalname>.<field>        choice values the option set does not have
//	consistency.<check> = [ids]                  won_opportunity_without_quote,
//	                                               order_without_invoice (not canceled, older
//	                                               than OrderInvoiceDays), invoice_total_differs
//	                                               (from its order's), quote_revision_out_of_order
//	                                               (a revisionnumber no higher than that of an
//	                                               earlier-created quote with its quotenumber)
//	stale.<check> = [ids]                        opportunity_past_close_date (open, estimated
//	                                               close before now), overdue_activity
//	kpis.<kpi id> = [{dims, period_start, period_end, numerator, denominator, value}]
//	                                             the expected result of every catalog KPI as of
//	                                             now, computed in Go from the records and from
//	                                             the KPI inputs file (Server.Inputs, WriteInputs)
//	                                             that goes with the data; see kpitruth.go. Periods,
//	                                             days and months are cut in UTC, or in the IANA
//	                                             zone of ?tz= (Server.TruthIn) as the KPIs cut them
//	                                             with that kpis.timezone; an unknown zone is
//	                                             answered 400 with one line. Some leads and cases
//	                                             are planted on the edges a zone moves (zones.go)
//	scoring {model, leads.<lead id> = {score, grade, stage, rules, points},
//	         backtest {window_start, window_end, grades [{grade, decided, qualified, rate}],
//	                   positives, negatives, concordant, auc, lift,
//	                   leads.<lead id> = {decided_at, score, grade, rules, qualified}}}
//	                                             what the demo scoring model
//	                                             (sql/scoring/demo/v1.yaml) gives every live lead
//	                                             as of now, and its backtest over the leads decided
//	                                             in the last 365 days, scored as of their decision;
//	                                             computed in Go by a second implementation of
//	                                             the model (scoring.go)
//
// Every key of the truth JSON is snake_case.
//
// Run-time control over HTTP, so that a simulator running as a process (ampel simulate) can
// be driven from outside as the methods drive it from a Go test. Bodies are JSON; a setting
// out of range or an unknown key or table is answered 400 with the reason and changes nothing:
//
//	GET  /_sim/faults            the faults in force (Server.Faults); no_change_tracking lists
//	                             the tables whose change tracking is off now
//	POST /_sim/faults            set them (Server.SetFaults), e.g. a 503 burst:
//	                             {"error_rate": 1} … then {"error_rate": 0}; keys error_rate and
//	                             drop_rate (0…1), latency ("50ms"), no_change_tracking,
//	                             no_app_user, no_read_privilege. PUT does the same.
//	GET  /_sim/throttle          the service protection limits (Server.Throttle)
//	POST /_sim/throttle          set them (Server.SetThrottle): {"requests": 600, "window":
//	                             "5m", "concurrent": 52, "retry_after": "1s"}; {} turns them off
//	GET  /_sim/change-tracking   {"lead": true, …} (Server.ChangeTracking)
//	POST /_sim/change-tracking   {"lead": false} sets the tables listed (Server.SetChangeTracking)
//	POST /_sim/expire-deltas     every delta link issued so far is expired (ExpireDeltaTokens)
//	POST /_sim/expire-tokens     every access token issued so far is expired: the Web API
//	                             answers 401 "Bearer token expired." until the client gets a
//	                             new one (Server.ExpireTokens)
//	GET  /_sim/stats             Server.Stats: requests, throttled, errors, faults,
//	                             tokens_issued, pages, peak_in_flight (the most API requests
//	                             answered at once), and by_kind (whoami, metadata, count,
//	                             record, query, next_page, delta)
//
// Start refuses options out of range (Options.Validate): a negative Scale, rates outside
// 0…1, negative latencies or limits, tables that TableNames does not list.
//
// POST /_sim/columns?table=lead&name=new_rating&type=Integer (Server.AddColumn) adds a column
// at run time: it appears in the metadata and in every record from then on (204; 400 with
// the reason otherwise).
//
// POST /_sim/mutate?creates=&updates=&deletes= (Server.Mutate) applies a deterministic batch
// spread over every table — leads, contacts, accounts, opportunities, quotes, orders,
// invoices, activities (each of a concrete type), cases; system users are only updated —
// with new versionnumbers and modifiedon = the clock, and answers what changed per logical
// name (activities also under activitypointer). Deletes follow Dataverse's relationship
// behaviour (VERIFY): parental children are deleted with their parent (activities regarding
// the record; a customer's contacts, opportunities, quotes, orders, invoices and cases; an
// opportunity's quotes), other lookups to it are cleared, which updates the referencing row.
// No live row is left pointing at a deleted one. One update in fifteen merges a planted
// duplicate into the first record of its group as Dynamics' Merge does (merged = true,
// masterid, deactivated), and a batch of ten creates or more adds a noisy member to a planted
// lead group. The truth stays current: it is computed over live rows, some created leads and
// accounts are planted duplicates, and a planted invalid value that an update replaces leaves
// the truth. Server.Delete deletes one given record the same way (an activity by its type
// or as activitypointer). GET /_sim/records/<logicalname>
// (Server.Records) returns live rows with numbers as json.Number (exact).
//
// A restored or copied environment: POST /_sim/snapshot (Server.Snapshot) copies the data
// and answers {"snapshot": id}; POST /_sim/restore?snapshot=id (Server.Restore) goes back
// to it as restoring a backup does — changed rows revert to their old values and lower
// versionnumbers, deleted rows are back, created rows are gone, the truth follows, and the
// version counter goes back, so later changes reuse version numbers rows had before. Delta
// and paging links issued before the restore are refused (400 0x80044352 and an invalid
// $skiptoken; VERIFY: undocumented for Dataverse). The schema and change tracking stay.
package dvsim
