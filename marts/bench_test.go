package marts_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// BenchmarkPublish builds and publishes every mart on the embedded engine
// over a synced simulator (100k leads, about 450k rows; 20k leads with
// -short) and, in the same run, the baseline: a plain copy of the tables
// the marts read, CREATE TABLE … AS SELECT * FROM each current-state view.
// It reports the publish's time, the copy's, their ratio and the rows
// published per second.
func BenchmarkPublish(b *testing.B) {
	scale := 100_000
	if testing.Short() {
		scale = 20_000
	}
	ctx := context.Background()
	st := kpistest.OpenMigrated(b, warehousetest.Embedded(b))
	sim, err := dvsim.Start(dvsim.Options{Seed: 1, Scale: scale})
	require.NoError(b, err)
	defer sim.Close()
	kpistest.Sync(b, st, kpistest.Client(b, sim), "bench")
	p, err := marts.New(st, marts.Options{})
	require.NoError(b, err)
	var sources []string
	for _, m := range p.Marts() {
		sources = append(sources, m.Sources...)
	}
	kpistest.Settle(b, st)
	b.ResetTimer()
	var publish, copying time.Duration
	var rows uint64
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		for _, s := range sources {
			require.NoError(b, st.Exec(ctx, "CREATE TABLE bench_copy_"+s+" ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM "+s))
		}
		copying += time.Since(t0)
		b.StopTimer()
		for _, s := range sources {
			require.NoError(b, st.Exec(ctx, "DROP TABLE bench_copy_"+s))
		}
		b.StartTimer()
		t0 = time.Now()
		_, err := p.Publish(ctx, "bench")
		require.NoError(b, err)
		publish += time.Since(t0)
		counts, err := p.Counts(ctx)
		require.NoError(b, err)
		rows = 0
		for _, n := range counts {
			rows += n
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(publish.Seconds()/n, "publish_s")
	b.ReportMetric(copying.Seconds()/n, "copy_s")
	b.ReportMetric(publish.Seconds()/copying.Seconds(), "publish/copy")
	b.ReportMetric(float64(rows)*n/publish.Seconds(), "rows/s")
}
