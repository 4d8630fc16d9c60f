package connector_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// count returns the rows of a current-state view for one environment.
func count(t *testing.T, st warehouse.Store, view, env string) int {
	t.Helper()
	rows, err := st.Query(context.Background(), fmt.Sprintf("SELECT count() FROM %s WHERE _environment = ?", warehouse.QuoteIdentifier(view)), env)
	require.NoError(t, err)
	defer rows.Close()
	var n uint64
	for rows.Next() {
		require.NoError(t, rows.Scan(&n))
	}
	require.NoError(t, rows.Err())
	return int(n)
}

// TestSyncTwoEnvironments syncs two simulated environments into one
// warehouse, in process, on both drivers: each view holds each
// environment's live rows, kept apart by _environment, through a full
// load and a delta with deletes.
func TestSyncTwoEnvironments(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := warehousetest.Open(t, cfg)
			_, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{})
			require.NoError(t, err)
			sims := map[string]*dvsim.Server{}
			for i, env := range []string{"prod", "test"} {
				sim, err := dvsim.Start(dvsim.Options{Seed: int64(40 + i), Scale: 150 + 50*i})
				require.NoError(t, err)
				t.Cleanup(func() { sim.Close() })
				sims[env] = sim
			}
			tables := tableList()
			sync := func() {
				for env, sim := range sims {
					res, err := connector.Sync(ctx, connector.Options{Store: st, Client: simClient(t, sim), Environment: env, Tables: tables, RunID: "t"})
					require.NoError(t, err)
					require.Len(t, res, len(tables))
				}
			}
			check := func(stage string) {
				for env, sim := range sims {
					truth := sim.Truth()
					for _, tb := range tables {
						require.Equal(t, truth.Tables[tb.Name].Count, count(t, st, tb.Name, env), "%s: %s/%s", stage, env, tb.Name)
					}
				}
			}
			sync()
			check("first load")
			sims["prod"].Mutate(10, 10, 10)
			sync()
			check("delta")
		})
	}
}
