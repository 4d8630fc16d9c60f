// Package dvsim is a Dataverse simulator, like net/http/httptest for the Dataverse Web API.
//
// Start generates a deterministic data set from Options.Seed (Scale leads, the other tables
// in proportion: users N/200 (min 5) plus one application user for the client, ~0.35N
// accounts and contacts, ~0.3N opportunities from qualified leads, quotes with revisions,
// orders from won quotes, invoices (paid, partial, cancelled, open), ~N activities regarding
// leads and opportunities, N/50 cases rising after GoLive and falling off) and serves it over
// HTTPS at URL()+"/api/data/v9.2/". Records are stored column-wise (no map per row) and
// rendered to JSON on the fly.
//
// Auth: an Entra-ID-like authority at Authority(): /v2.0/.well-known/openid-configuration,
// /oauth2/v2.0/token (client_credentials with client_secret, or client_assertion signed by a
// certificate registered with AddCertificate; RS256+x5t or PS256+x5t#S256),
// /discovery/v2.0/keys, and /common/discovery/instance. MSAL Go must be created with
// confidential.WithInstanceDiscovery(false) and WithHTTPClient(s.Client()). Tokens are RS256
// JWTs with aud = URL(); the API answers 401 with WWW-Authenticate otherwise.
//
// Web API: entity sets leads, opportunities, quotes, salesorders, invoices, activitypointers,
// phonecalls, emails, tasks, appointments, incidents, systemusers, accounts, contacts;
// <set>(<guid>), <set>/$count, WhoAmI, EntityDefinitions (forms listed on serveMetadata).
// Query options $select, $filter, $orderby, $top, $count; Prefer odata.maxpagesize (≤5000),
// odata.include-annotations (pattern list), odata.track-changes. Paging follows
// @odata.nextLink with a $skiptoken paging cookie; tracking ends with @odata.deltaLink
// ($deltatoken=<version>!<MM/dd/yyyy HH:mm:ss>); deltas give changed rows by version, then
// $deletedEntity entries. Choices made where Dataverse is unverified are marked VERIFY.
//
// Truth (GET /_sim/truth, Server.Truth) is computed over live rows:
//
//	now, go_live
//	tables.<logicalname>.count                    live rows
//	duplicates.<logicalname> = [{kind, ids}]       planted groups (lead, contact, account);
//	                                               kind exact|case|whitespace|phone|typo|suffix.
//	                                               Generated base records are unique after trim,
//	                                               case folding, digits-only phones and removing
//	                                               legal forms, so these are all the groups.
//	completeness.<logicalname>.<field>            share of live rows with a non-blank value
//	                                               (leads: email ~95 %, phone ~92 %, company 98 %)
//	invalid.<logicalname>.<field> = [ids]         planted invalid emails (~1.5 %) and phones (~1 %)
//	retention.<lead|contact> = {policy, cutoff, ids}  inactive and unmodified for 2 years
//	won_revenue_by_month.<YYYY-MM>               sum of actualvalue of won opportunities
//	tickets_per_week_after_go_live[i]            cases created in week i after go-live (no merged)
//	active_users_by_month.<YYYY-MM>              users who created or modified a record
//	users {licensed, active_last_28_days, never_active}
//	conversions {lead/opp/quote counts, lead_conversion_rate, win_rate, quote_to_order_rate,
//	             sales_cycle_median_days}
//	overdue_activities.<type>                    open activities due before now
//
// POST /_sim/mutate?creates=&updates=&deletes= (Server.Mutate) and GET
// /_sim/records/<logicalname> (Server.Records) complete the test surface.
package dvsim
