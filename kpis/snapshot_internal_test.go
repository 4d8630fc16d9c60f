package kpis

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestSweepSnapshots: a run drops the snapshot tables a killed run left
// once they are older than SnapshotMaxAge, and nothing else.
func TestSweepSnapshots(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := kpistest.OpenMigrated(t, cfg)
			left := SnapshotPrefix + "0badc0de_lead"
			for _, n := range []string{left, "kpi_other"} {
				require.NoError(t, st.Exec(ctx, "CREATE TABLE "+warehouse.QuoteIdentifier(n)+" (a UInt8) ENGINE = Memory"))
			}
			tables := func() []string {
				rows, err := st.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN (?, ?) ORDER BY name", left, "kpi_other")
				require.NoError(t, err)
				defer rows.Close()
				var out []string
				for rows.Next() {
					var n string
					require.NoError(t, rows.Scan(&n))
					out = append(out, n)
				}
				require.NoError(t, rows.Err())
				return out
			}
			require.NoError(t, sweepSnapshots(ctx, st, time.Now(), log))
			require.Equal(t, []string{"kpi_other", left}, tables(), "a fresh snapshot may be another run's")
			require.NoError(t, sweepSnapshots(ctx, st, time.Now().Add(SnapshotMaxAge+time.Hour), log))
			require.Equal(t, []string{"kpi_other"}, tables())
		})
	}
}
