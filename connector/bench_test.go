package connector_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
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

// BenchmarkSync measures, on the same data (AMPEL_BENCH_LEADS leads,
// 100k by default, 5k with -short; about 525k rows over the 14 default
// tables at 100k), the simulator in its own process (startRemoteSim, no
// latency) and the embedded engine in this one:
//
//   - decode: reading and decoding every page, nothing else;
//   - insert: writing the same rows, already read, into landing tables
//     (the sync's mapping, row shape and batch size) as a plain script
//     would, with the engine's default settings (the sync's INSERTs carry
//     landing.InsertSettings);
//   - sync:   the full sync end to end, into a new warehouse with a new
//     client (it reads all metadata, as a first sync does);
//   - delta:  a delta sync after a 1 % mutate (median of five).
//
// The three phases run AMPEL_BENCH_ROUNDS times (3 by default, 1 with
// -short), each round in another order, and the figures are medians. The
// simulator's page serving is in the other process, so this process's
// CPU time (getrusage: Go and the engine's threads) is Ampel's alone.
// Each phase's CPU time runs until the engine's background merges its
// INSERTs started are done (settle), so that they count for the phase
// that caused them; its wall time ends with its last call.
//
// It reports CPU seconds per million rows of each phase and issue 17's
// CPU target, sync_cpu/(decode_cpu+insert_cpu) (medians of the phases;
// sync_cpu/decode+insert_round is the median of each round's ratio), and
// the rates: rows/s of each phase, sync/min(decode, insert), and
// delta/sync time. Each phase runs under the pprof label phase (decode,
// insert, sync; goroutines it starts inherit it): with -cpuprofile,
// `go tool pprof -tagfocus phase=sync` shows one phase's Go side (the
// engine's threads carry no labels).
//
// Each round also logs, per phase, the engine's events over it
// (system.events, counted for the whole process: statements, INSERTs,
// parts written, merges, the CPU time of the engine's threads that count
// it; engineEvents) and the Go runtime's GC CPU estimate and cycles; with
// AMPEL_BENCH_ALL_EVENTS set, every engine event that moved. They say
// where a phase's CPU went on the engine's side, which the profile does
// not show.
func BenchmarkSync(b *testing.B) {
	scale := benchLeads(b, 100_000, 5_000)
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	if s := os.Getenv("AMPEL_BENCH_ROUNDS"); s != "" {
		_, err := fmt.Sscan(s, &rounds)
		require.NoError(b, err)
	}
	ctx := context.Background()
	sim := startRemoteSim(b, simChildOptions{Seed: 1, Scale: scale})
	newClient := func() *dataverse.Client {
		c, err := dataverse.New(ctx, sim.environment("bench", 0).Client)
		require.NoError(b, err)
		return c
	}
	// (a) decode only and (b) insert only: baselines
	bl := newBaselines(b, sim)
	tables, probe := bl.tables, bl.probe
	// (c) the full sync end to end, into a new database, with a new
	// client: a first sync reads every table's metadata (the baselines'
	// client holds it)
	var st warehouse.Store
	var syncClient *dataverse.Client
	full := func() benchPhase {
		st = openStore(b)
		settle(b, st)
		syncClient = newClient()
		c0 := readCounters(b, probe)
		start, cpu0 := time.Now(), cpuTime()
		var res []connector.TableResult
		var err error
		labeled("sync", func() {
			res, err = connector.Sync(ctx, connector.Options{Store: st, Client: syncClient, Environment: "bench", Tables: tables, RunID: "full"})
		})
		require.NoError(b, err)
		wall := time.Since(start)
		settle(b, st)
		cpu := cpuTime() - cpu0
		counts := readCounters(b, probe).minus(c0)
		var n int64
		for _, r := range res {
			require.Equal(b, connector.StatusOK, r.Status, r.Table)
			n += int64(r.Upserted)
		}
		return benchPhase{wall: wall, cpu: cpu, rows: n, counts: counts}
	}
	median := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	perM := func(p benchPhase) float64 { return p.cpu.Seconds() / float64(p.rows) * 1e6 }

	for i := 0; i < b.N; i++ {
		var dCPU, iCPU, sCPU, ratios, dRate, iRate, sRate []float64
		var d, in, s benchPhase
		// each round in another order, so that no phase always runs first
		// (warm caches, the other helpers' load at the start of a run)
		orders := [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {0, 2, 1}, {2, 0, 1}, {1, 0, 2}}
		for round := 0; round < rounds; round++ {
			for _, ph := range orders[round%len(orders)] {
				switch ph {
				case 0:
					d = bl.decode()
				case 1:
					in = bl.insert()
				case 2:
					s = full()
				}
			}
			require.Equal(b, d.rows, in.rows)
			require.Equal(b, d.rows, s.rows, "the sync wrote another number of rows than decode read")
			dCPU, iCPU, sCPU = append(dCPU, perM(d)), append(iCPU, perM(in)), append(sCPU, perM(s))
			ratios = append(ratios, perM(s)/(perM(d)+perM(in)))
			dRate, iRate, sRate = append(dRate, d.rate()), append(iRate, in.rate()), append(sRate, s.rate())
			b.Logf("round %d: %d rows; CPU s per 1M rows: decode %.2f, insert %.2f, sync %.2f: %.3fx (CPU s: decode %.1f wall %.1f, insert %.1f wall %.1f, sync %.1f wall %.1f)",
				round, s.rows, perM(d), perM(in), perM(s), ratios[len(ratios)-1],
				d.cpu.Seconds(), d.wall.Seconds(), in.cpu.Seconds(), in.wall.Seconds(), s.cpu.Seconds(), s.wall.Seconds())
			for _, p := range []struct {
				name string
				ph   benchPhase
			}{{"decode", d}, {"insert", in}, {"sync", s}} {
				b.Logf("round %d %s: %s", round, p.name, p.ph.counts)
			}
		}

		// delta after a 1 % mutate, five times, on the last sync's
		// warehouse and client (as `ampel run` keeps them): one delta is a
		// fraction of a second, so one sample is at the mercy of the
		// machine; the median of five is not
		n := scale / 100
		var deltas []float64
		for range 5 {
			sim.control(b, http.MethodPost, fmt.Sprintf("/_sim/mutate?creates=%d&updates=%d&deletes=%d", n/3, n/3, n/3), nil)
			settle(b, st)
			start := time.Now()
			_, err := connector.Sync(ctx, connector.Options{Store: st, Client: syncClient, Environment: "bench", Tables: tables, RunID: "delta"})
			require.NoError(b, err)
			deltas = append(deltas, time.Since(start).Seconds())
		}

		b.ReportMetric(median(dCPU), "decode_cpu_s/1M_rows")
		b.ReportMetric(median(iCPU), "insert_cpu_s/1M_rows")
		b.ReportMetric(median(sCPU), "sync_cpu_s/1M_rows")
		b.ReportMetric(median(sCPU)/(median(dCPU)+median(iCPU)), "sync_cpu/decode+insert")
		b.ReportMetric(median(ratios), "sync_cpu/decode+insert_round")
		b.ReportMetric(median(dRate), "decode_rows/s")
		b.ReportMetric(median(iRate), "insert_rows/s")
		b.ReportMetric(median(sRate), "sync_rows/s")
		b.ReportMetric(median(sRate)/min(median(dRate), median(iRate)), "sync/slower_end")
		b.ReportMetric(median(deltas)/(float64(s.rows)/median(sRate)), "delta/full_time")
		b.ReportMetric(float64(s.rows), "rows")
		b.Logf("deltas after a 1 %% mutate: %.2f s (median of %v)", median(deltas), deltas)
	}
}

// benchPhase is one phase's figures: its wall and CPU time, the rows it
// handled, and the engine's and the Go runtime's events over it.
type benchPhase struct {
	wall, cpu time.Duration
	rows      int64
	counts    counters
}

// rate is the phase's rows per second of wall time.
func (p benchPhase) rate() float64 { return float64(p.rows) / p.wall.Seconds() }

// baselines are BenchmarkSync's decode-only and insert-only phases on a
// simulator's pages (every table of tableList, as many tables at once as
// the sync loads): what a sync of the same pages is compared with, here
// and in BenchmarkRemoteSync. Read the simulator without latency: the
// phases measure the machine, not round trips.
type baselines struct {
	b        *testing.B
	client   *dataverse.Client
	tables   []connector.Table
	entities []*dataverse.Entity
	probe    warehouse.Store // the engine's events are the process's: any store of it reads them
	par      int
}

func newBaselines(b *testing.B, sim *remoteSim) *baselines {
	b.Helper()
	ctx := context.Background()
	client, err := dataverse.New(ctx, sim.environment("bench", 0).Client)
	require.NoError(b, err)
	bl := &baselines{b: b, client: client, tables: tableList(), probe: openStore(b),
		// the baselines read and write tables with the same parallelism
		// as the sync, so that the figures compare the same shape of work
		par: connector.DefaultParallelTables}
	bl.entities = make([]*dataverse.Entity, len(bl.tables))
	for k, t := range bl.tables {
		ent, err := client.EntityDefinition(ctx, t.Name)
		require.NoError(b, err)
		bl.entities[k] = ent
	}
	return bl
}

// read reads every page of table k and hands it to keep.
func (bl *baselines) read(k int, keep func(*dataverse.Page)) int {
	ctx := context.Background()
	m, err := schema.New(bl.entities[k], warehouse.Dialect{Driver: "embedded"}, nil)
	require.NoError(bl.b, err)
	r := bl.client.Read(ctx, dataverse.Query{EntitySet: bl.entities[k].EntitySetName, Select: m.Select(), TrackChanges: true})
	defer r.Close()
	n := 0
	for {
		p, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n
		}
		require.NoError(bl.b, err)
		n += len(p.Records)
		keep(p)
	}
}

// labeled runs fn under the pprof label phase.
func labeled(phase string, fn func()) {
	pprof.Do(context.Background(), pprof.Labels("phase", phase), func(context.Context) { fn() })
}

// decode fetches and decodes every page, and releases it as the sync does.
func (bl *baselines) decode() benchPhase {
	c0 := readCounters(bl.b, bl.probe)
	start, cpu0 := time.Now(), cpuTime()
	var n atomic.Int64
	labeled("decode", func() {
		forTables(len(bl.tables), bl.par, func(k int) { n.Add(int64(bl.read(k, (*dataverse.Page).Release))) })
	})
	p := benchPhase{wall: time.Since(start), cpu: cpuTime() - cpu0, rows: n.Load()}
	p.counts = readCounters(bl.b, bl.probe).minus(c0)
	return p
}

// insert writes the same rows, read beforehand (not timed), into a new
// warehouse's landing tables; its CPU time runs until the merges its
// INSERTs started are done.
func (bl *baselines) insert() benchPhase {
	pages := make([][]*dataverse.Page, len(bl.tables))
	forTables(len(bl.tables), bl.par, func(k int) { bl.read(k, func(p *dataverse.Page) { pages[k] = append(pages[k], p) }) })
	st := openStore(bl.b)
	settle(bl.b, st)
	c0 := readCounters(bl.b, bl.probe)
	start, cpu0 := time.Now(), cpuTime()
	var n atomic.Int64
	labeled("insert", func() {
		forTables(len(bl.tables), bl.par, func(k int) { n.Add(int64(insertPages(bl.b, st, bl.entities[k], pages[k]))) })
	})
	wall := time.Since(start)
	settle(bl.b, st)
	cpu := cpuTime() - cpu0
	return benchPhase{wall: wall, cpu: cpu, rows: n.Load(), counts: readCounters(bl.b, bl.probe).minus(c0)}
}

// engineEvents are the engine's events (system.events, counted for the
// whole process) each phase reports: statements, what its INSERTs wrote,
// the merges, and the CPU time of the engine's threads that count it.
var engineEvents = []string{"Query", "InsertQuery", "SelectQuery", "InsertedRows", "MergeTreeDataWriterBlocks",
	"Merge", "MergeSourceParts", "MergedRows", "MergeTotalMilliseconds", "UserTimeMicroseconds", "SystemTimeMicroseconds"}

// goMetrics are the Go runtime's figures each phase reports: the GC's CPU
// time (an estimate the runtime updates at the end of each GC cycle, so a
// phase of few cycles gets some of its neighbours'), the GC cycles and
// the bytes allocated.
var goMetrics = []string{"/cpu/classes/gc/total:cpu-seconds", "/gc/cycles/total:gc-cycles", "/gc/heap/allocs:bytes"}

// counters are engineEvents and goMetrics at one moment, or their
// differences over a phase.
type counters struct {
	engine         map[string]uint64
	gc             float64 // CPU seconds
	cycles, allocs uint64
}

// readCounters reads the engine's events (through st) and the Go
// runtime's metrics.
func readCounters(tb testing.TB, st warehouse.Store) counters {
	tb.Helper()
	c := counters{engine: map[string]uint64{}}
	rows, err := st.Query(context.Background(), "SELECT event, value FROM system.events")
	require.NoError(tb, err)
	for rows.Next() {
		var name string
		var v uint64
		require.NoError(tb, rows.Scan(&name, &v))
		c.engine[name] = v
	}
	require.NoError(tb, rows.Err())
	rows.Close()
	samples := make([]metrics.Sample, len(goMetrics))
	for i, n := range goMetrics {
		samples[i].Name = n
	}
	metrics.Read(samples)
	c.gc = samples[0].Value.Float64()
	c.cycles, c.allocs = samples[1].Value.Uint64(), samples[2].Value.Uint64()
	return c
}

// minus is c less an earlier reading.
func (c counters) minus(o counters) counters {
	d := counters{engine: map[string]uint64{}, gc: c.gc - o.gc, cycles: c.cycles - o.cycles, allocs: c.allocs - o.allocs}
	for k, v := range c.engine {
		d.engine[k] = v - o.engine[k]
	}
	return d
}

func (c counters) String() string {
	var b strings.Builder
	for _, n := range engineEvents {
		fmt.Fprintf(&b, "%s %d, ", n, c.engine[n])
	}
	if os.Getenv("AMPEL_BENCH_ALL_EVENTS") != "" {
		names := slices.Sorted(maps.Keys(c.engine))
		for _, n := range names {
			if !slices.Contains(engineEvents, n) && c.engine[n] != 0 {
				fmt.Fprintf(&b, "%s %d, ", n, c.engine[n])
			}
		}
	}
	fmt.Fprintf(&b, "Go: GC %.2f CPU-s, %d GC cycles, %d MB allocated", c.gc, c.cycles, c.allocs>>20)
	return b.String()
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
// how many it wrote. Its batches tell the store where they end, as the
// sync's do (warehouse.WithBatchBound).
func insertPages(b *testing.B, st warehouse.Store, ent *dataverse.Entity, pages []*dataverse.Page) int {
	ctx := warehouse.WithBatchBound(context.Background(), warehouse.BatchBound{Rows: connector.DefaultBatchRows})
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
