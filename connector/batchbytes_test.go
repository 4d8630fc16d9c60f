package connector_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// sizedInserts records the rows and bytes of every batch sent into table.
type sizedInserts struct {
	warehouse.Store
	table string

	mu   sync.Mutex
	sent [][2]int // rows, bytes
}

func (s *sizedInserts) PrepareInsert(ctx context.Context, table string, columns []string) (warehouse.Batch, error) {
	b, err := s.Store.PrepareInsert(ctx, table, columns)
	if err != nil || table != s.table {
		return b, err
	}
	return &sizedBatch{Batch: b, s: s}, nil
}

type sizedBatch struct {
	warehouse.Batch
	s *sizedInserts
}

func (b *sizedBatch) Send(ctx context.Context) error {
	rows, bytes := b.Rows(), b.Bytes()
	err := b.Batch.Send(ctx)
	if err == nil && rows > 0 {
		b.s.mu.Lock()
		b.s.sent = append(b.s.sent, [2]int{rows, bytes})
		b.s.mu.Unlock()
	}
	return err
}

// TestSyncBatchesBoundedInBytes: with Options.BatchRows out of reach, a
// load's INSERTs end at Options.BatchBytes, in one read and in ranges
// sharing one writer: each holds at most the bound and the pages appended
// after it was passed (one page in one read, one per range in ranges),
// every row lands once, and the view equals the source.
func TestSyncBatchesBoundedInBytes(t *testing.T) {
	const page, bound = 50, 24 << 10
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			sim, err := dvsim.Start(dvsim.Options{Seed: 71, Scale: 1500})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			total := len(sim.Records("lead"))
			for _, ranges := range []int{1, 4} {
				t.Run(fmt.Sprintf("ranges=%d", ranges), func(t *testing.T) {
					st := &sizedInserts{Store: openMigrated(t, cfg), table: "landing_lead"}
					res, err := connector.Sync(context.Background(), connector.Options{Store: st, Client: pagedClient(t, sim, page), Environment: "prod",
						Tables: []connector.Table{{Name: "lead"}}, RunID: "t", BatchRows: 1 << 20, BatchBytes: bound, ParallelRanges: ranges})
					require.NoError(t, err)
					require.Len(t, res, 1)
					require.Equal(t, total, int(res[0].Upserted), "ranges %d: %+v", ranges, res[0])
					require.Equal(t, simVersions(t, sim, "lead", "leadid"), viewVersions(t, st, "lead", "leadid", "prod"), "ranges %d", ranges)

					if ranges > 1 {
						require.Contains(t, res[0].Note, "createdon ranges")
					}
					sum := 0
					for _, s := range st.sent {
						rows, bytes := s[0], s[1]
						sum += rows
						perRow := bytes / rows
						require.Positive(t, perRow, "ranges %d: a batch reports its bytes", ranges)
						// the bound passed within its last page (of each range)
						require.LessOrEqual(t, rows, bound/perRow+1+ranges*page, "ranges %d: a batch of %d rows, %d bytes", ranges, rows, bytes)
					}
					require.Equal(t, total, sum, "ranges %d: every row in one INSERT", ranges)
					// a wide lead row takes hundreds of bytes: the rows of the
					// table take many bounds
					all := 0
					for _, s := range st.sent {
						all += s[1]
					}
					require.Greater(t, len(st.sent), all/bound/2, "ranges %d: %d INSERTs for %d bytes", ranges, len(st.sent), all)
					require.Greater(t, len(st.sent), 2, "ranges %d", ranges)
				})
			}
		})
	}
}
