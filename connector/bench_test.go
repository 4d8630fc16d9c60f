package connector_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/connector/schema"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// BenchmarkSync measures, in one run and on the same data (scale 100k
// leads, about 1M rows over all tables, embedded engine):
//
//   - decode: reading and decoding every page, nothing else;
//   - insert: writing the same rows, already read, into landing tables;
//   - sync:   the full sync end to end;
//   - delta:  a delta sync after a 1 % mutate (median of five).
//
// Each timed phase starts once the engine's background merges of the
// previous one are done (settle).
//
// It reports rows/s for each and the ratios the issue sets targets for:
// sync/min(decode, insert) and delta/sync time; and sync against the
// serial combination of decode and insert, which is the ceiling when both
// ends share the CPU (2 cores, simulator in process).
func BenchmarkSync(b *testing.B) {
	scale := 100_000
	if testing.Short() {
		scale = 5_000
	}
	ctx := context.Background()
	sim, err := dvsim.Start(dvsim.Options{Seed: 1, Scale: scale})
	require.NoError(b, err)
	defer sim.Close()
	client := simClient(b, sim)
	tables := tableList()

	for i := 0; i < b.N; i++ {
		// the baselines read and write tables with the same parallelism as
		// the sync, so that the three figures compare the same shape of work
		par := connector.DefaultParallelTables
		entities := make([]*dataverse.Entity, len(tables))
		for k, t := range tables {
			ent, err := client.EntityDefinition(ctx, t.Name)
			require.NoError(b, err)
			entities[k] = ent
		}
		read := func(k int, keep func(*dataverse.Page)) int {
			m, err := schema.New(entities[k], warehouse.Dialect{Driver: "embedded"}, nil)
			require.NoError(b, err)
			r := client.Read(ctx, dataverse.Query{EntitySet: entities[k].EntitySetName, Select: m.Select(), TrackChanges: true})
			defer r.Close()
			n := 0
			for {
				p, err := r.Next(ctx)
				if errors.Is(err, io.EOF) {
					return n
				}
				require.NoError(b, err)
				n += len(p.Records)
				keep(p)
			}
		}

		// (a) decode only: fetch and decode every page, and release it as the sync does
		start, cpu0 := time.Now(), cpuTime()
		var decoded atomic.Int64
		forTables(len(tables), par, func(k int) { decoded.Add(int64(read(k, (*dataverse.Page).Release))) })
		decodeTime, decodeCPU := time.Since(start), cpuTime()-cpu0

		// (b) insert only: the same rows, read beforehand (not timed)
		pages := make([][]*dataverse.Page, len(tables))
		forTables(len(tables), par, func(k int) { read(k, func(p *dataverse.Page) { pages[k] = append(pages[k], p) }) })
		st := openStore(b)
		settle(b, st)
		start, cpu0 = time.Now(), cpuTime()
		var inserted atomic.Int64
		forTables(len(tables), par, func(k int) { inserted.Add(int64(insertPages(b, st, entities[k], pages[k]))) })
		insertTime, insertCPU := time.Since(start), cpuTime()-cpu0
		pages = nil

		// full sync end to end, into a fresh database, with a new client:
		// a first sync reads every table's metadata (the baselines' client
		// holds it). The deltas keep this client, as `ampel run` does.
		st = openStore(b)
		settle(b, st)
		client = simClient(b, sim)
		start, cpu0 = time.Now(), cpuTime()
		res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "bench", Tables: tables, RunID: "full"})
		require.NoError(b, err)
		syncTime, syncCPU := time.Since(start), cpuTime()-cpu0
		var synced uint64
		for _, r := range res {
			synced += r.Upserted
		}

		// delta after a 1 % mutate, five times: one delta is a fraction of
		// a second, so one sample is at the mercy of the machine; the
		// median of five is not
		n := scale / 100
		var deltas []time.Duration
		var deltaCPU time.Duration
		for range 5 {
			sim.Mutate(n/3, n/3, n/3)
			settle(b, st)
			start, cpu0 = time.Now(), cpuTime()
			_, err = connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "bench", Tables: tables, RunID: "delta"})
			require.NoError(b, err)
			deltas = append(deltas, time.Since(start))
			deltaCPU += cpuTime() - cpu0
		}
		slices.Sort(deltas)
		deltaTime := deltas[len(deltas)/2]
		deltaCPU /= time.Duration(len(deltas))

		decodeRate := float64(decoded.Load()) / decodeTime.Seconds()
		insertRate := float64(inserted.Load()) / insertTime.Seconds()
		syncRate := float64(synced) / syncTime.Seconds()
		b.ReportMetric(decodeRate, "decode_rows/s")
		b.ReportMetric(insertRate, "insert_rows/s")
		b.ReportMetric(syncRate, "sync_rows/s")
		b.ReportMetric(syncRate/min(decodeRate, insertRate), "sync/slower_end")
		// on 2 cores, with the simulator in the same process, both ends
		// compete for the same CPU: then the best a pipeline can do is the
		// serial combination of the two, 1/(1/decode + 1/insert)
		b.ReportMetric(syncRate*(1/decodeRate+1/insertRate), "sync/serial_bound")
		b.ReportMetric(deltaTime.Seconds()/syncTime.Seconds(), "delta/full_time")
		b.ReportMetric(float64(synced), "rows")
		b.Logf("CPU seconds: decode %.1f (wall %.1f), insert %.1f (wall %.1f), sync %.1f (wall %.1f), delta %.2f (wall %.2f, median of %v)",
			decodeCPU.Seconds(), decodeTime.Seconds(), insertCPU.Seconds(), insertTime.Seconds(), syncCPU.Seconds(), syncTime.Seconds(), deltaCPU.Seconds(), deltaTime.Seconds(), deltas)
	}
}

// settle waits until the engine runs no merges: the background merges a
// phase's INSERTs start go on after it ends, and would otherwise be
// counted against the next phase (a real delta sync runs minutes after the
// full load, not at once).
func settle(tb testing.TB, st warehouse.Store) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, err := st.Query(context.Background(), "SELECT count() FROM system.merges")
		require.NoError(tb, err)
		var n uint64
		for rows.Next() {
			require.NoError(tb, rows.Scan(&n))
		}
		require.NoError(tb, rows.Err())
		rows.Close()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the engine still runs %d merges after 2 minutes", n)
		}
		time.Sleep(20 * time.Millisecond) // polling the engine's merge list
	}
}

// forTables runs fn for table indexes 0..n-1, par at a time.
func forTables(n, par int, fn func(k int)) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for k := 0; k < n; k++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(k)
		}()
	}
	wg.Wait()
}

// insertPages writes the rows of pages to the table's landing table the way
// the sync does (same mapping, batch size and metadata columns) and returns
// how many it wrote.
func insertPages(b *testing.B, st warehouse.Store, ent *dataverse.Entity, pages []*dataverse.Page) int {
	ctx := context.Background()
	m, err := schema.New(ent, st.Dialect(), nil)
	require.NoError(b, err)
	l := m.Landing()
	_, err = landing.Ensure(ctx, st, l, nil)
	require.NoError(b, err)
	lr, err := landing.NewRows(l, "bench")
	require.NoError(b, err)
	cols := lr.Columns()
	batch, err := st.PrepareInsert(ctx, l.Table(), cols)
	require.NoError(b, err)
	now := time.Now().UTC().Truncate(time.Second)
	var row []any
	n := 0
	for _, p := range pages {
		for k := range p.Records {
			row, err = m.Row(&p.Records[k], row[:0])
			require.NoError(b, err)
			v, _ := p.Records[k].Version()
			row = lr.Live(row, v, now)
			require.NoError(b, batch.Append(row...))
			n++
			if batch.Rows() >= connector.DefaultBatchRows {
				require.NoError(b, batch.Send(ctx))
				batch, err = st.PrepareInsert(ctx, l.Table(), cols)
				require.NoError(b, err)
			}
		}
	}
	require.NoError(b, batch.Send(ctx))
	return n
}

func tableList() []connector.Table {
	var ts []connector.Table
	for _, n := range config.DefaultTables {
		ts = append(ts, connector.Table{Name: n})
	}
	return ts
}

func simClient(tb testing.TB, sim *dvsim.Server) *dataverse.Client {
	tb.Helper()
	return pagedClient(tb, sim, 0)
}

// viaClient is a client of sim whose requests go through rt (which sends
// them on to sim.Client().Transport), with pages of pageSize rows (0: the
// client's default).
func viaClient(tb testing.TB, sim *dvsim.Server, rt http.RoundTripper, pageSize int) *dataverse.Client {
	tb.Helper()
	c, err := dataverse.New(context.Background(), dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: &http.Client{Transport: rt}, PageSize: pageSize})
	require.NoError(tb, err)
	return c
}

// pagedClient is a client of sim that asks for pages of pageSize rows (0:
// the client's default).
func pagedClient(tb testing.TB, sim *dvsim.Server, pageSize int) *dataverse.Client {
	tb.Helper()
	c, err := dataverse.New(context.Background(), dataverse.Config{
		URL:          sim.URL(),
		Authority:    sim.Authority(),
		TenantID:     sim.TenantID(),
		ClientID:     sim.ClientID(),
		ClientSecret: sim.ClientSecret(),
		HTTPClient:   sim.Client(),
		PageSize:     pageSize,
	})
	require.NoError(tb, err)
	return c
}

func openStore(tb testing.TB) warehouse.Store {
	tb.Helper()
	return openMigrated(tb, warehousetest.Embedded(tb))
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
