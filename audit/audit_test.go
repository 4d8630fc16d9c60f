package audit_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

const env = "sim"

// simClient is a Dataverse client of the simulator; keep one per store so that deltas
// follow a first sync.
func simClient(tb testing.TB, sim *dvsim.Server) *dataverse.Client {
	tb.Helper()
	c, err := dataverse.New(context.Background(), dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: sim.Client()})
	require.NoError(tb, err)
	return c
}

// syncTables syncs the named tables (all of Ampel's default tables when none are named).
func syncTables(tb testing.TB, st warehouse.Store, c *dataverse.Client, names ...string) {
	tb.Helper()
	if len(names) == 0 {
		names = config.DefaultTables
	}
	var tables []connector.Table
	for _, n := range names {
		tables = append(tables, connector.Table{Name: n})
	}
	_, err := connector.Sync(context.Background(), connector.Options{Store: st, Client: c, Environment: env, Tables: tables, RunID: "audit-test"})
	require.NoError(tb, err)
}

func loadRules(tb testing.TB) *audit.Catalog {
	tb.Helper()
	cat, err := audit.LoadCatalog(ampelsql.Audits, "", nil)
	require.NoError(tb, err)
	return cat
}

// runAudit runs every built-in rule as of the simulator's now.
func runAudit(tb testing.TB, st warehouse.Store, sim *dvsim.Server, cat *audit.Catalog, refs ...string) *audit.Report {
	tb.Helper()
	asOf, err := time.Parse(time.RFC3339, sim.Truth().Now)
	require.NoError(tb, err)
	rep, err := audit.Run(context.Background(), audit.RunOptions{Store: st, Catalog: cat, Refs: refs, AsOf: asOf,
		CriticalFields: kpis.DefaultCriticalFields, EnvironmentURLs: map[string]string{env: sim.URL()}})
	require.NoError(tb, err)
	for _, f := range rep.Failed {
		tb.Errorf("rule %s failed on %s: %v", f.Ref, f.Table, f.Err)
	}
	return rep
}

// found lists the records of open findings of a rule on a table (and field, unless "*"),
// sorted.
func found(rep *audit.Report, rule, table, field string) []string {
	out := []string{}
	for _, f := range rep.Findings {
		if f.Status == audit.StatusOpen && f.RuleID == rule && f.Table == table && (field == "*" || f.Field == field) {
			out = append(out, f.RecordID)
		}
	}
	sort.Strings(out)
	return out
}

func sorted(ids []string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

// checkTruth compares every check's findings with the simulator's truth, exactly, and
// counts how many planted problems the comparison covered.
func checkTruth(t *testing.T, stage string, rep *audit.Report, truth dvsim.Truth) int {
	t.Helper()
	n := 0
	same := func(what string, want, got []string) {
		t.Helper()
		require.Equal(t, sorted(want), got, "%s: %s", stage, what)
		n += len(want)
	}
	for _, table := range []string{"lead", "contact", "account"} {
		same("invalid e-mails of "+table, truth.Invalid[table]["emailaddress1"], found(rep, "invalid_email", table, "emailaddress1"))
		same("invalid phones of "+table, truth.Invalid[table]["telephone1"], found(rep, "invalid_phone", table, "telephone1"))
		same("invalid mobile phones of "+table, truth.Invalid[table]["mobilephone"], found(rep, "invalid_phone", table, "mobilephone"))
		same("invalid postcodes of "+table, truth.Invalid[table]["address1_postalcode"], found(rep, "invalid_postcode", table, "address1_postalcode"))
	}
	for table, ids := range truth.Incomplete {
		same("incomplete records of "+table, ids, found(rep, "incomplete_record", table, ""))
	}
	for what, m := range map[string]map[string]map[string][]string{"implausible_date": truth.ImplausibleDates,
		"negative_amount": truth.NegativeAmounts, "unknown_choice": truth.UnknownChoices} {
		for table, fields := range m {
			var want []string
			for _, ids := range fields {
				want = append(want, ids...)
			}
			same(what+" of "+table, want, found(rep, what, table, "*"))
			for field, ids := range fields {
				same(what+" of "+table+"."+field, ids, found(rep, what, table, field))
			}
		}
	}
	for rule, table := range map[string]string{"won_opportunity_without_quote": "opportunity", "order_without_invoice": "salesorder",
		"invoice_total_differs": "invoice", "quote_revision_out_of_order": "quote"} {
		same(rule, truth.Consistency[rule], found(rep, rule, table, "*"))
	}
	same("opportunity_past_close_date", truth.Stale["opportunity_past_close_date"], found(rep, "opportunity_past_close_date", "opportunity", "*"))
	same("overdue_activity", truth.Stale["overdue_activity"], found(rep, "overdue_activity", "activitypointer", "*"))
	for _, table := range []string{"lead", "contact"} {
		same("retention of "+table, truth.Inactive[table].IDs, found(rep, "retention_expired", table, "*"))
	}
	return n
}

// TestChecksAgainstTruth syncs the simulator into both engines and runs every built-in
// rule: the findings of each check are exactly the simulator's planted and computed truth —
// invalid e-mails, phones and postcodes, incomplete records, dates decades ahead, negative
// amounts, unknown choices, the consistency of the sales process, staleness and retention —
// and the completeness and validity KPIs count what the audit found.
// A second run finds the same findings under the same ids, none new. After changes in
// the source (a batch of creates, updates and deletes, and a steward fixing an e-mail) and
// a delta sync, the findings follow the new truth, the fixed one is resolved, and both
// engines agree throughout.
func TestChecksAgainstTruth(t *testing.T) {
	sim, err := dvsim.Start(dvsim.Options{Seed: 21, Scale: 1500})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	cat := loadRules(t)
	type engine struct {
		st     warehouse.Store
		client *dataverse.Client
		runs   []*audit.Report
	}
	var engines []*engine
	for _, cfg := range warehousetest.All(t) {
		e := &engine{st: openMigrated(t, cfg), client: simClient(t, sim)}
		syncTables(t, e.st, e.client)
		engines = append(engines, e)
	}
	truth := sim.Truth()
	for _, planted := range [][]string{truth.Invalid["lead"]["address1_postalcode"], truth.Consistency["won_opportunity_without_quote"],
		truth.Consistency["invoice_total_differs"], truth.Consistency["quote_revision_out_of_order"], truth.Consistency["order_without_invoice"],
		truth.UnknownChoices["lead"]["leadsourcecode"], truth.NegativeAmounts["opportunity"]["estimatedvalue"],
		truth.ImplausibleDates["contact"]["birthdate"], truth.Stale["overdue_activity"], truth.Inactive["lead"].IDs} {
		require.NotEmpty(t, planted, "the simulator planted too little to test")
	}
	for _, e := range engines {
		rep := runAudit(t, e.st, sim, cat)
		n := checkTruth(t, "first run "+e.st.Dialect().Driver, rep, truth)
		agreeWithKPIs(t, e.st, rep)
		t.Logf("%s: %d findings, %d of them compared with the truth", e.st.Dialect().Driver, len(rep.Findings), n)
		for _, f := range rep.Findings {
			require.True(t, f.New, "first run: every finding is new")
			require.Equal(t, audit.FindingID(f.RuleID, f.RuleVersion, f.Environment, f.Table, f.RecordID, f.Field), f.ID)
			table := f.Table
			if f.RuleID == "overdue_activity" {
				table = f.Link[strings.Index(f.Link, "etn=")+4 : strings.Index(f.Link, "&id=")]
				require.Contains(t, []string{"phonecall", "email", "task", "appointment"}, table, "an activity's link names its type")
			}
			require.Equal(t, sim.URL()+"/main.aspx?etn="+table+"&id="+f.RecordID+"&pagetype=entityrecord", f.Link)
		}
		again := runAudit(t, e.st, sim, cat)
		require.Equal(t, ids(rep, audit.StatusOpen), ids(again, audit.StatusOpen), "ids are stable across runs")
		for _, f := range again.Findings {
			require.False(t, f.New, "second run: %s %s is not new", f.RuleID, f.RecordID)
			require.Equal(t, rep.AsOf, f.FirstSeen)
		}
		for _, r := range again.Rules {
			require.Zero(t, r.New+r.Resolved, "%s: nothing new or resolved", r.Def.ID)
			if r.Findings > 0 {
				require.Equal(t, []int{r.Findings, r.Findings}, r.Trend, "%s: trend over two runs", r.Def.ID)
			}
		}
		e.runs = append(e.runs, rep, again)
	}
	require.Equal(t, ids(engines[0].runs[0], ""), ids(engines[1].runs[0], ""), "both engines find the same")

	// the source changes; a steward fixes one invalid e-mail
	sim.Mutate(80, 150, 40)
	fixed := truth.Invalid["lead"]["emailaddress1"][0]
	require.NoError(t, sim.Update("lead", fixed, map[string]string{"emailaddress1": "fixed@example.org"}))
	truth = sim.Truth()
	require.NotContains(t, truth.Invalid["lead"]["emailaddress1"], fixed)
	for _, e := range engines {
		syncTables(t, e.st, e.client)
		rep := runAudit(t, e.st, sim, cat)
		checkTruth(t, "after changes "+e.st.Dialect().Driver, rep, truth)
		agreeWithKPIs(t, e.st, rep)
		before := map[string]bool{}
		for _, f := range e.runs[1].Findings {
			before[f.ID] = f.Status == audit.StatusOpen
		}
		var resolved int
		for _, f := range rep.Findings {
			switch f.Status {
			case audit.StatusResolved:
				resolved++
				require.True(t, before[f.ID], "only open findings are resolved")
				require.Equal(t, rep.AsOf, f.ResolvedAt)
			default:
				require.Equal(t, !before[f.ID], f.New, "%s %s: new when not open before", f.RuleID, f.RecordID)
			}
			if f.RuleID == "invalid_email" && f.RecordID == fixed {
				require.Equal(t, audit.StatusResolved, f.Status, "the fixed e-mail's finding is resolved")
			}
		}
		require.Positive(t, resolved)
		e.runs = append(e.runs, rep)
	}
	require.Equal(t, ids(engines[0].runs[2], ""), ids(engines[1].runs[2], ""), "both engines find the same after the changes")
}

// agreeWithKPIs runs the data-quality KPIs and checks that they count what the audit found:
// per table the records record_completeness does not count complete are incomplete_record's
// findings, per field those field_completeness does not count filled are the findings that
// name the field missing, and per field the values validity_rate does not count valid are
// invalid_email's and invalid_phone's findings.
func agreeWithKPIs(t *testing.T, st warehouse.Store, rep *audit.Report) {
	t.Helper()
	kc, err := kpis.LoadCatalog(ampelsql.KPIs, "", nil)
	require.NoError(t, err)
	kr, err := kpis.Run(context.Background(), kpis.Options{Store: st, Catalog: kc, AsOf: rep.AsOf,
		Refs: []string{"record_completeness", "field_completeness", "validity_rate"}})
	require.NoError(t, err)
	require.Empty(t, kr.Failed)
	missing := map[string]int{} // table.field → records missing it
	for _, f := range rep.Findings {
		if f.Status == audit.StatusOpen && f.RuleID == "incomplete_record" {
			for _, field := range strings.Split(f.Values[0].Value, ", ") {
				missing[f.Table+"."+field]++
			}
		}
	}
	checked := 0
	for _, r := range kr.Results {
		gap := int(*r.Denominator - *r.Numerator)
		table := r.Dim("table")
		switch r.Def.ID {
		case "record_completeness":
			require.Len(t, found(rep, "incomplete_record", table, ""), gap, "record_completeness of %s", table)
		case "field_completeness":
			require.Equal(t, gap, missing[table+"."+r.Dim("field")], "field_completeness of %s.%s", table, r.Dim("field"))
		case "validity_rate":
			rule := "invalid_phone"
			if r.Dim("field") == "emailaddress1" {
				rule = "invalid_email"
			}
			require.Len(t, found(rep, rule, table, r.Dim("field")), gap, "validity_rate of %s.%s", table, r.Dim("field"))
		}
		checked++
	}
	require.Greater(t, checked, 20)
}

// ids lists a report's finding ids of one status ("" for all), sorted.
func ids(rep *audit.Report, status string) []string {
	var out []string
	for _, f := range rep.Findings {
		if status == "" || f.Status == status {
			out = append(out, f.ID+" "+f.Status)
		}
	}
	slices.Sort(out)
	return out
}
