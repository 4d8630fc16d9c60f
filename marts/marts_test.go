package marts_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/kpis/scoring"
	"github.com/ampel/ampel/marts"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// wantMarts are the marts of issue 15 point 1, and the lead scores.
var wantMarts = []string{
	"dim_account", "dim_contact", "dim_date", "dim_user", "dq_findings",
	"fact_activity", "fact_case", "fact_invoice", "fact_lead", "fact_opportunity",
	"fact_order", "fact_quote", "kpi_history", "kpi_latest", "lead_scores", "sync_runs",
}

// source is the synced table each entity mart shows one row per record of.
var source = map[string]string{
	"dim_user": "systemuser", "dim_account": "account", "dim_contact": "contact",
	"fact_lead": "lead", "fact_opportunity": "opportunity", "fact_quote": "quote",
	"fact_order": "salesorder", "fact_invoice": "invoice", "fact_activity": "activitypointer",
	"fact_case": "incident",
}

func newPublisher(tb testing.TB, st warehouse.Store, opts marts.Options) *marts.Publisher {
	tb.Helper()
	p, err := marts.New(st, opts)
	require.NoError(tb, err)
	return p
}

// TestSets checks the definitions against the conventions the feed and
// Power BI rely on, without a warehouse.
func TestSets(t *testing.T) {
	ctx := context.Background()
	st := warehousetest.Open(t, warehousetest.Embedded(t))
	p := newPublisher(t, st, marts.Options{})
	sets, err := p.Sets(ctx)
	require.NoError(t, err)
	var names []string
	for _, s := range sets {
		names = append(names, s.Name)
		require.Equal(t, "mart_"+s.Name, p.Table(s.Name))
		require.NotEmpty(t, s.Description, s.Name)
		require.Len(t, s.Key, 1, "%s: one key column, so that Power BI relates on it", s.Name)
		cols := map[string]string{}
		for _, c := range s.Columns {
			cols[c.Name] = c.Type
			require.NotContains(t, c.Type, "UInt", "%s.%s: Int64, not UInt", s.Name, c.Name)
		}
		if s.Name == "dim_date" {
			require.Equal(t, "Date", cols[s.Key[0]])
		} else {
			require.Equal(t, "String", cols[s.Key[0]], "%s: the key is a String", s.Name)
		}
		if s.Name != "dim_date" {
			require.Equal(t, "String", cols["environment"], "%s: the environment is a column", s.Name)
		}
	}
	require.Equal(t, wantMarts, names)
	for _, m := range p.Marts() {
		require.True(t, m.File.Released, "%s is listed in sql/marts/releases.lock", m.File.Name)
	}
}

// synced is a warehouse with the simulator's data synced, audited, scored
// and its KPIs run, as ampel run leaves it.
type synced struct {
	st     warehouse.Store
	sim    *dvsim.Server
	client *dataverse.Client
	asOf   time.Time
	kpis   *kpis.Catalog
	inputs *kpis.Inputs
	audit  *audit.Catalog
	models *scoring.Set
	// tz is kpis.timezone of the KPI runs; "" is UTC.
	tz string
}

func setUp(t *testing.T, cfg warehouse.Config, scale int) *synced {
	t.Helper()
	s := &synced{st: kpistest.OpenMigrated(t, cfg)}
	sim, err := dvsim.Start(dvsim.Options{Seed: 5, Scale: scale})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	s.sim, s.client = sim, kpistest.Client(t, sim)
	s.asOf, err = time.Parse(time.RFC3339, sim.Truth().Now)
	require.NoError(t, err)
	s.kpis, err = kpis.LoadCatalog(ampelsql.KPIs, "", nil)
	require.NoError(t, err)
	file := t.TempDir() + "/inputs.yaml"
	require.NoError(t, sim.WriteInputs(file, kpistest.Env))
	s.inputs, err = kpis.LoadInputs(file, []string{kpistest.Env})
	require.NoError(t, err)
	s.audit, err = audit.LoadCatalog(ampelsql.Audits, "", nil)
	require.NoError(t, err)
	s.models, err = scoring.Load(ampelsql.Scoring, "", nil)
	require.NoError(t, err)
	return s
}

// run syncs, audits, scores and runs the KPIs, as one scheduled run does;
// it returns the KPI report.
func (s *synced) run(t *testing.T, id string) *kpis.Report {
	t.Helper()
	ctx := context.Background()
	kpistest.Sync(t, s.st, s.client, id)
	_, err := audit.Run(ctx, audit.RunOptions{Store: s.st, Catalog: s.audit, AsOf: s.asOf, CriticalFields: kpis.DefaultCriticalFields})
	require.NoError(t, err)
	_, err = scoring.Run(ctx, scoring.Options{Store: s.st, Models: s.models, AsOf: s.asOf, RunID: id})
	require.NoError(t, err)
	rep, err := kpis.Run(ctx, kpis.Options{Store: s.st, Catalog: s.kpis, Inputs: s.inputs, AsOf: s.asOf, RunID: id, Timezone: s.tz})
	require.NoError(t, err)
	require.Empty(t, rep.Failed)
	return rep
}

func one[T any](t *testing.T, st warehouse.Store, q string, args ...any) T {
	t.Helper()
	rows, err := st.Query(context.Background(), q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	require.True(t, rows.Next(), "%s: no row (%v)", q, rows.Err())
	var v T
	require.NoError(t, rows.Scan(&v), q)
	return v
}

// TestMartsMatchSource builds the marts over a synced, audited, scored
// simulator and checks each against the simulator's truth and the tables
// it reads: one row per live record, labels from the option sets, keys
// that join with no orphans, the declared types, unique keys.
func TestMartsMatchSource(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) { martsMatchSource(t, cfg) })
	}
}

// martsMatchSource is TestMartsMatchSource on the warehouse cfg opens.
func martsMatchSource(t *testing.T, cfg warehouse.Config) {
	ctx := context.Background()
	t0 := time.Now()
	s := setUp(t, cfg, 400)
	rep := s.run(t, "r1")
	t.Logf("set up: %s", time.Since(t0))
	p := newPublisher(t, s.st, marts.Options{})
	cur, err := p.Current(ctx)
	require.NoError(t, err)
	require.Zero(t, cur, "nothing published yet")
	snap, err := p.Publish(ctx, "test")
	require.NoError(t, err)
	cur, err = p.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, snap, cur)

	truth := s.sim.Truth()
	sets, err := p.Sets(ctx)
	require.NoError(t, err)
	for _, set := range sets {
		view := p.View(set.Name)
		// the view's columns are the declared ones, Nullable only where declared
		rows, err := s.st.Query(ctx, "SELECT * FROM "+view+" LIMIT 0")
		require.NoError(t, err)
		got := rows.Columns()
		rows.Close()
		require.Len(t, got, len(set.Columns), view)
		for i, c := range set.Columns {
			require.Equal(t, c.Name, got[i].Name, view)
			require.Equal(t, norm(c.Type), norm(got[i].Type), "%s.%s", view, c.Name)
		}
		// one row per key; the table's rows are the published view's
		key := set.Key[0]
		require.Zero(t, one[uint64](t, s.st, fmt.Sprintf("SELECT count() - uniqExact(%s) FROM %s", key, view)), "%s: duplicate keys", view)
		require.Equal(t, one[uint64](t, s.st, "SELECT count() FROM "+view),
			one[uint64](t, s.st, "SELECT count() FROM "+p.Table(set.Name)+" WHERE _snapshot = ?", snap), view)
		if src, ok := source[set.Name]; ok {
			require.EqualValues(t, truth.Tables[src].Count, one[uint64](t, s.st, "SELECT count() FROM "+view), "%s: one row per live %s", view, src)
			require.NotZero(t, truth.Tables[src].Count, src)
		}
	}
	// the other marts against the tables they show
	require.EqualValues(t, len(rep.Results), one[uint64](t, s.st, "SELECT count() FROM bi_kpi_latest"))
	require.Equal(t, one[uint64](t, s.st, "SELECT count() FROM kpi_results"), one[uint64](t, s.st, "SELECT count() FROM bi_kpi_history"))
	require.Equal(t, one[uint64](t, s.st, "SELECT count() FROM dq_findings_current"), one[uint64](t, s.st, "SELECT count() FROM bi_dq_findings"))
	require.Equal(t, one[uint64](t, s.st, "SELECT count() FROM sync_runs"), one[uint64](t, s.st, "SELECT count() FROM bi_sync_runs"))
	require.Equal(t, one[uint64](t, s.st, "SELECT count() FROM lead_score"), one[uint64](t, s.st, "SELECT count() FROM bi_lead_scores"))
	require.NotZero(t, one[uint64](t, s.st, "SELECT count() FROM bi_dq_findings"))
	require.NotZero(t, one[uint64](t, s.st, "SELECT count() FROM bi_lead_scores"))
	// a KPI's traffic light and value as the run reported it
	for _, r := range rep.Results[:min(20, len(rep.Results))] {
		status := one[string](t, s.st, "SELECT any(status) FROM bi_kpi_latest WHERE kpi_id = ? AND version = ? AND dimensions = ? AND period_start = ?",
			r.Def.ID, int64(r.Def.Version), r.DimText(), r.PeriodStart)
		require.Equal(t, r.Status, status, "%s %s", r.Def.ID, r.DimText())
	}
	// money in the base currency, as the landing tables have it
	require.Equal(t, one[string](t, s.st, "SELECT ifNull(toString(sum(estimatedamount_base)), '') FROM lead"),
		one[string](t, s.st, "SELECT toString(sum(estimated_amount)) FROM bi_fact_lead"))
	require.Equal(t, one[string](t, s.st, "SELECT ifNull(toString(sum(totalamount_base)), '') FROM invoice"),
		one[string](t, s.st, "SELECT toString(sum(total_amount)) FROM bi_fact_invoice"))

	t.Logf("published and checked: %s", time.Since(t0))
	labels(t, s, "bi_fact_lead", "lead", map[string]string{"status": "statuscode", "state": "statecode", "source": "leadsourcecode", "industry": "industrycode", "quality": "leadqualitycode"})
	labels(t, s, "bi_fact_opportunity", "opportunity", map[string]string{"status": "statuscode", "state": "statecode", "sales_stage": "salesstage"})
	labels(t, s, "bi_fact_case", "incident", map[string]string{"status": "statuscode", "case_type": "casetypecode", "origin": "caseorigincode", "priority": "prioritycode"})
	labels(t, s, "bi_dim_account", "account", map[string]string{"industry": "industrycode", "state": "statecode"})

	t.Logf("labels: %s", time.Since(t0))
	relations(t, s.st)
	t.Logf("relations: %s", time.Since(t0))
}

// labels checks that every label column holds the option set's label of
// its code column, read from the simulator's metadata: code -1 (none) has
// the label ”.
func labels(t *testing.T, s *synced, view, table string, cols map[string]string) {
	t.Helper()
	ent, err := s.client.EntityDefinition(context.Background(), table)
	require.NoError(t, err)
	opts := map[string]map[int]string{}
	for _, a := range ent.Attributes {
		if len(a.Options) > 0 {
			opts[a.LogicalName] = map[int]string{}
			for _, o := range a.Options {
				opts[a.LogicalName][o.Value] = o.Label
			}
		}
	}
	for label, attr := range cols {
		require.NotEmpty(t, opts[attr], "%s.%s has options", table, attr)
		rows, err := s.st.Query(context.Background(), fmt.Sprintf("SELECT %s_code, %s, count() FROM %s GROUP BY %s_code, %s", label, label, view, label, label))
		require.NoError(t, err)
		seen, unknown := 0, uint64(0)
		for rows.Next() {
			var code int64
			var got string
			var n uint64
			require.NoError(t, rows.Scan(&code, &got, &n))
			if code == -1 {
				require.Empty(t, got, "%s.%s: no code, no label", view, label)
				continue
			}
			want, ok := opts[attr][int(code)]
			if !ok { // a value the simulator planted as not in the option set: the audit's unknown_choice
				unknown += n
				continue
			}
			require.Equal(t, want, got, "%s.%s for code %d", view, label, code)
			seen++
		}
		require.NoError(t, rows.Err())
		rows.Close()
		require.NotZero(t, seen, "%s.%s: some rows have a code", view, label)
		require.LessOrEqual(t, unknown, uint64(len(s.sim.Truth().UnknownChoices[table][attr])), "%s.%s: codes not in the option set", view, label)
	}
}

// relations checks that the keys relating facts to dimensions join: every
// key that is not ” is a key of the other mart, and some are not ”.
func relations(t *testing.T, st warehouse.Store) {
	t.Helper()
	type rel struct{ from, col, to, key string }
	var rels []rel
	for _, f := range []string{"fact_lead", "fact_opportunity", "fact_quote", "fact_order", "fact_invoice", "fact_activity", "fact_case", "dim_account", "dim_contact"} {
		rels = append(rels, rel{f, "owner_key", "dim_user", "user_key"}, rel{f, "created_date", "dim_date", "date"})
	}
	// the simulator's customers are accounts; activities are about leads and opportunities
	for _, f := range []string{"fact_quote", "fact_order", "fact_invoice", "fact_case", "fact_lead", "fact_opportunity", "dim_contact"} {
		rels = append(rels, rel{f, "account_key", "dim_account", "account_key"})
	}
	for _, f := range []string{"fact_lead", "fact_opportunity"} {
		rels = append(rels, rel{f, "contact_key", "dim_contact", "contact_key"})
	}
	rels = append(rels,
		rel{"fact_opportunity", "lead_key", "fact_lead", "lead_key"},
		rel{"fact_lead", "opportunity_key", "fact_opportunity", "opportunity_key"},
		rel{"fact_quote", "opportunity_key", "fact_opportunity", "opportunity_key"},
		rel{"fact_order", "quote_key", "fact_quote", "quote_key"},
		rel{"fact_order", "opportunity_key", "fact_opportunity", "opportunity_key"},
		rel{"fact_invoice", "order_key", "fact_order", "order_key"},
		rel{"fact_activity", "lead_key", "fact_lead", "lead_key"},
		rel{"fact_activity", "opportunity_key", "fact_opportunity", "opportunity_key"},
		rel{"lead_scores", "lead_key", "fact_lead", "lead_key"},
		rel{"kpi_latest", "period_date", "dim_date", "date"},
		rel{"sync_runs", "started_date", "dim_date", "date"},
	)
	var failed []string
	for _, r := range rels {
		empty := "''"
		if strings.HasSuffix(r.col, "_date") {
			empty = "toDate('1970-01-01')"
		}
		got := one[string](t, st, fmt.Sprintf("SELECT concat(toString(countIf(%s != %s AND %s NOT IN (SELECT %s FROM bi_%s))), ' ', toString(countIf(%s != %s))) FROM bi_%s",
			r.col, empty, r.col, r.key, r.to, r.col, empty, r.from))
		var orphans, set int
		_, err := fmt.Sscan(got, &orphans, &set)
		require.NoError(t, err)
		if orphans != 0 || set == 0 {
			failed = append(failed, fmt.Sprintf("%s.%s → %s.%s: %d orphans of %d set", r.from, r.col, r.to, r.key, orphans, set))
		}
	}
	sort.Strings(failed)
	require.Empty(t, failed)
}

func norm(t string) string {
	return strings.NewReplacer(" ", "", "'", "").Replace(t)
}

// TestExcludedColumns publishes over a lead table synced with
// exclude_columns: the mart reads NULL for the columns that are not there
// and shows their defaults, and the other columns as synced.
func TestExcludedColumns(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			st := kpistest.OpenMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 3, Scale: 100})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			_, err = connector.Sync(ctx, connector.Options{Store: st, Client: kpistest.Client(t, sim), Environment: kpistest.Env, RunID: "r1",
				Tables: []connector.Table{{Name: "lead", ExcludeColumns: []string{"emailaddress1", "leadsourcecode", "parentaccountid", "createdon"}}}})
			require.NoError(t, err)
			for _, c := range []string{"emailaddress1", "leadsourcecode", "parentaccountid", "createdon"} {
				require.Zero(t, one[uint64](t, st, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'lead' AND name = ?", c), "%s is not synced", c)
			}
			p := newPublisher(t, st, marts.Options{})
			_, err = p.Publish(ctx, "test")
			require.NoError(t, err)
			require.EqualValues(t, sim.Truth().Tables["lead"].Count, one[uint64](t, st, "SELECT count() FROM bi_fact_lead"))
			require.EqualValues(t, sim.Truth().Tables["lead"].Count,
				one[uint64](t, st, "SELECT count() FROM bi_fact_lead WHERE email = '' AND source_code = -1 AND source = '' AND account_key = '' AND created_date = toDate('1970-01-01')"))
			require.Equal(t, one[uint64](t, st, "SELECT uniqExact(statuscodename) FROM lead"), one[uint64](t, st, "SELECT uniqExact(status) FROM bi_fact_lead"))
			require.Zero(t, one[uint64](t, st, "SELECT count() FROM bi_fact_opportunity"), "not synced: empty")
		})
	}
}
