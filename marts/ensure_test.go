package marts

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestNewVersionChangesColumns publishes a mart whose columns a new
// version changed: its table and view are made again with the new columns
// and hold the new snapshot only; the other marts' views stay as they were.
func TestNewVersionChangesColumns(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			st := warehousetest.Open(t, cfg)
			_, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{})
			require.NoError(t, err)
			p, err := New(st, Options{})
			require.NoError(t, err)
			first, err := p.Publish(ctx, "test")
			require.NoError(t, err)

			m := p.byName["dim_date"]
			require.Equal(t, "is_weekend", m.Columns[len(m.Columns)-1].Name)
			m.Columns = m.Columns[:len(m.Columns)-1] // as if v2 left it out
			second, err := p.Publish(ctx, "test")
			require.NoError(t, err)

			cat, err := warehouse.ReadCatalog(ctx, st, "mart_dim_date", "bi_dim_date", "bi_dim_account")
			require.NoError(t, err)
			require.Equal(t, m.Columns, cat["bi_dim_date"])
			require.Equal(t, append([]warehouse.Column{{Name: "_snapshot", Type: "UInt64"}}, m.Columns...), cat["mart_dim_date"])
			snaps, err := p.Snapshots(ctx, "dim_date")
			require.NoError(t, err)
			require.Equal(t, []uint64{second}, snaps, "the table was made again")
			var n uint64
			require.NoError(t, queryOne(ctx, st, &n, "SELECT count() FROM bi_dim_date"))
			require.NotZero(t, n)
			require.Len(t, cat["bi_dim_account"], len(p.byName["dim_account"].Columns))
			snaps, err = p.Snapshots(ctx, "dim_date")
			require.NoError(t, err)
			require.NotContains(t, snaps, first)
		})
	}
}
