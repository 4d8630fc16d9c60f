package audit_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) {
	if phase := os.Getenv(envChild); phase != "" {
		if err := benchChild(phase); err != nil {
			fmt.Fprintln(os.Stderr, "audit benchmark:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	warehousetest.Main(m)
}

var dupTables = []string{"account", "contact", "lead"}

// syncSim syncs the simulator's lead, contact and account tables into st.
func syncSim(tb testing.TB, st warehouse.Store, sim *dvsim.Server, env string) {
	tb.Helper()
	ctx := context.Background()
	c, err := dataverse.New(ctx, dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: sim.Client()})
	require.NoError(tb, err)
	var tables []connector.Table
	for _, t := range dupTables {
		tables = append(tables, connector.Table{Name: t})
	}
	_, err = connector.Sync(ctx, connector.Options{Store: st, Client: c, Environment: env, Tables: tables, RunID: "audit-test"})
	require.NoError(tb, err)
}

func openMigrated(tb testing.TB, cfg warehouse.Config) warehouse.Store {
	tb.Helper()
	st := warehousetest.Open(tb, cfg)
	_, err := migrate.Up(context.Background(), st, ampelsql.Schema, migrate.Options{})
	require.NoError(tb, err)
	return st
}

func truthGroups(tr dvsim.Truth, table string) [][]string {
	var out [][]string
	for _, g := range tr.Duplicates[table] {
		out = append(out, g.IDs)
	}
	return out
}

// TestDuplicatesAgainstTruth syncs the simulator into both engines, runs the default fuzzy
// models and Dynamics' out-of-the-box exact rules in one run, and measures both against the
// planted groups: the fuzzy rules reach F1 ≥ 0.95 with precision ≥ 0.98 on every table and
// find more than the exact rules; no planted look-alike is grouped; both engines give the
// same groups. Then again after a batch of changes (merges, deletes, new members) and a
// delta sync.
func TestDuplicatesAgainstTruth(t *testing.T) {
	ctx := context.Background()
	sim, err := dvsim.Start(dvsim.Options{Seed: 14, Scale: 3000})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	var stores []warehouse.Store
	for _, cfg := range warehousetest.All(t) {
		stores = append(stores, openMigrated(t, cfg))
	}
	check := func(stage string) {
		truth := sim.Truth()
		var first *audit.Result
		for i, st := range stores {
			syncSim(t, st, sim, "sim")
			res, err := audit.Duplicates(ctx, st, audit.Options{})
			require.NoError(t, err)
			for _, table := range dupTables {
				tr := res.Table(table)
				require.NotNil(t, tr, table)
				want := truthGroups(truth, table)
				fuzzy := audit.Evaluate(audit.GroupIDs(tr.Fuzzy), want)
				exact := audit.Evaluate(audit.GroupIDs(tr.Exact), want)
				t.Logf("%s %s %s: %d records, %d true pairs; fuzzy P=%.3f R=%.3f F1=%.3f (%d pairs compared); exact P=%.3f R=%.3f F1=%.3f",
					stage, st.Dialect().Driver, table, tr.Stats.Records, fuzzy.TruePairs, fuzzy.Precision, fuzzy.Recall, fuzzy.F1,
					tr.Stats.PairsCompared, exact.Precision, exact.Recall, exact.F1)
				require.Greater(t, fuzzy.TruePairs, 10, "%s: too few planted pairs to measure", table)
				require.GreaterOrEqual(t, fuzzy.F1, 0.95, "%s %s: fuzzy F1", stage, table)
				require.GreaterOrEqual(t, fuzzy.Precision, 0.98, "%s %s: fuzzy precision", stage, table)
				require.Greater(t, fuzzy.Recall, exact.Recall, "%s %s: fuzzy recall above the exact rules'", stage, table)
				for _, look := range truth.Lookalikes[table] {
					for _, g := range tr.Fuzzy {
						ids := g.IDs()
						require.False(t, contains(ids, look.IDs[0]) && contains(ids, look.IDs[1]),
							"%s %s: look-alike %s %v grouped", stage, table, look.Kind, look.IDs)
					}
				}
			}
			if i == 0 {
				first = res
				continue
			}
			for _, table := range dupTables {
				require.Equal(t, groupKeys(first.Table(table).Fuzzy), groupKeys(res.Table(table).Fuzzy), "%s %s: engines differ", stage, table)
				require.Equal(t, groupKeys(first.Table(table).Exact), groupKeys(res.Table(table).Exact), "%s %s: engines differ (exact)", stage, table)
			}
		}
	}
	check("first load")
	res := sim.Mutate(60, 90, 30)
	require.NotEmpty(t, res.Created["lead"])
	check("after mutate")
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func groupKeys(gs []*audit.Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}
