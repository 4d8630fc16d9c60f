package connector

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// gatedStore holds the first INSERT until gate is closed.
type gatedStore struct {
	warehouse.Store
	gate chan struct{}
}

func (g *gatedStore) PrepareInsert(ctx context.Context, table string, columns []string) (warehouse.Batch, error) {
	<-g.gate
	return g.Store.PrepareInsert(ctx, table, columns)
}

// Saves that come while one is written go together into the next INSERT,
// and each returns only once its own row is stored.
func TestStateWriterGroupsSaves(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			st := warehousetest.Open(t, cfg)
			_, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{})
			require.NoError(t, err)
			gs := &gatedStore{Store: st, gate: make(chan struct{})}
			w := newStateWriter(gs, "prod")

			const n = 16
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = w.save(ctx, fmt.Sprintf("t%02d", i), state{Mode: ModeDelta, DeltaLink: fmt.Sprintf("link-%d", i), Columns: []string{"a"}})
				})
			}
			// one save is being written (held at the gate), the others wait
			require.Eventually(t, func() bool {
				w.mu.Lock()
				defer w.mu.Unlock()
				return w.busy && len(w.queue) == n-1
			}, time.Minute, time.Millisecond)
			close(gs.gate)
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "save %d", i)
			}

			states, err := loadStates(ctx, st, "prod")
			require.NoError(t, err)
			require.Len(t, states, n)
			for i := range n {
				s := states[fmt.Sprintf("t%02d", i)]
				require.Equal(t, fmt.Sprintf("link-%d", i), s.DeltaLink)
				require.Equal(t, []string{"a"}, s.Columns)
			}
			rows, err := st.Query(ctx, "SELECT uniqExact(seq) FROM sync_state")
			require.NoError(t, err)
			defer rows.Close()
			require.True(t, rows.Next())
			var inserts uint64
			require.NoError(t, rows.Scan(&inserts))
			require.Equal(t, uint64(2), inserts, "the held save, then the other 15 in one INSERT")
		})
	}
}
