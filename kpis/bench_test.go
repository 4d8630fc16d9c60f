package kpis_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// BenchmarkCatalog runs the whole KPI catalog on the embedded engine over
// a synced simulator (1M leads, about 4.4M rows; 20k with -short;
// AMPEL_BENCH_LEADS sets another scale) and, in the same run, the
// baseline: one scan of every column the catalog reads, SELECT
// sum(cityHash64(columns…)) per current-state view. It reports the
// catalog's time, the scan's, their ratio (target: at most 3), the same in
// CPU seconds of the process (the embedded engine runs in it; steadier on
// a shared machine), and logs the three slowest KPIs; beside it the
// catalog as it ran before snapshots: DirectReads, and v1 of
// record_completeness and field_completeness.
func BenchmarkCatalog(b *testing.B) {
	scale := 1_000_000
	if testing.Short() {
		scale = 20_000
	}
	if v := os.Getenv("AMPEL_BENCH_LEADS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "AMPEL_BENCH_LEADS")
		scale = n
	}
	ctx := context.Background()
	st := kpistest.OpenMigrated(b, warehousetest.Embedded(b))
	sim, err := dvsim.Start(dvsim.Options{Seed: 1, Scale: scale})
	require.NoError(b, err)
	defer sim.Close()
	kpistest.Sync(b, st, kpistest.Client(b, sim), "bench")
	cat := loadCatalog(b)
	in := simInputs(b, sim)
	scans := scanQueries(b, st, cat)
	truth := sim.Truth()
	asOf, err := time.Parse(time.RFC3339, truth.Now)
	require.NoError(b, err)
	kpistest.Settle(b, st)
	b.ResetTimer()
	// per iteration: the scan, the catalog as it ran before snapshots (the
	// views read directly, the completeness KPIs' v1), the catalog as it runs
	var before []string
	for _, d := range cat.Defaults() {
		ref := d.Ref()
		if d.ID == "record_completeness" || d.ID == "field_completeness" {
			ref = d.ID + "@v1"
		}
		before = append(before, ref)
	}
	var scan, direct, run measure
	var rep, directRep *kpis.Report
	for i := 0; i < b.N; i++ {
		scan.time(func() {
			for _, q := range scans {
				rows, err := st.Query(ctx, q)
				require.NoError(b, err)
				for rows.Next() {
				}
				require.NoError(b, rows.Err())
				rows.Close()
			}
		})
		for _, m := range []struct {
			m      *measure
			rep    **kpis.Report
			direct bool
			refs   []string
		}{{&direct, &directRep, true, before}, {&run, &rep, false, nil}} {
			m.m.time(func() {
				*m.rep, err = kpis.Run(ctx, kpis.Options{Store: st, Catalog: cat, Refs: m.refs, Inputs: in, AsOf: asOf, DirectReads: m.direct})
				require.NoError(b, err)
				require.Empty(b, (*m.rep).Failed)
			})
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(run.wall.Seconds()/n, "catalog_s")
	b.ReportMetric(scan.wall.Seconds()/n, "scan_s")
	b.ReportMetric(run.wall.Seconds()/scan.wall.Seconds(), "catalog/scan")
	b.ReportMetric(direct.wall.Seconds()/scan.wall.Seconds(), "direct/scan")
	b.ReportMetric(run.cpu.Seconds()/scan.cpu.Seconds(), "catalog/scan_cpu")
	b.ReportMetric(direct.cpu.Seconds()/scan.cpu.Seconds(), "direct/scan_cpu")
	logRun := func(name string, m measure, rep *kpis.Report) {
		timings := slices.Clone(rep.Timings)
		sort.Slice(timings, func(i, j int) bool { return timings[i].Took > timings[j].Took })
		var slow, all []string
		for _, t := range timings[:min(3, len(timings))] {
			slow = append(slow, fmt.Sprintf("%s %s", t.Ref, t.Took.Round(time.Millisecond)))
		}
		for _, t := range timings {
			all = append(all, fmt.Sprintf("%s %dms", t.Ref, t.Took.Milliseconds()))
		}
		b.Logf("%s, every KPI: %s", name, strings.Join(all, ", "))
		b.Logf("leads=%d: %s %s (%.1f CPU-s; %d KPIs, %d results; snapshots of [%s] took %s, hold %.0f MB), scan %s (%.1f CPU-s): %.2fx (CPU %.2fx); slowest: %s",
			scale, name, (m.wall / time.Duration(b.N)).Round(time.Millisecond), m.cpu.Seconds()/n, len(rep.Timings), len(rep.Results),
			strings.Join(rep.Snapshots, " "), rep.SnapshotTook.Round(time.Millisecond), float64(rep.SnapshotBytes)/1e6, (scan.wall / time.Duration(b.N)).Round(time.Millisecond),
			scan.cpu.Seconds()/n, m.wall.Seconds()/scan.wall.Seconds(), m.cpu.Seconds()/scan.cpu.Seconds(), strings.Join(slow, ", "))
	}
	logRun("before (direct reads, completeness v1)", direct, directRep)
	logRun("catalog", run, rep)
}

// measure sums the wall and CPU time of what it timed.
type measure struct{ wall, cpu time.Duration }

func (m *measure) time(f func()) {
	t0, c0 := time.Now(), kpistest.CPUTime()
	f()
	m.wall += time.Since(t0)
	m.cpu += kpistest.CPUTime() - c0
}

// scanQueries builds the baseline: for every view the catalog reads, one
// SELECT of sum(cityHash64(…)) over the columns whose names the
// definitions mention (templated ones included: critical fields and the
// activity columns), and _environment.
func scanQueries(b *testing.B, st warehouse.Store, cat *kpis.Catalog) []string {
	words := map[string]bool{"_environment": true, "createdby": true, "createdon": true, "modifiedby": true, "modifiedon": true}
	views := map[string]bool{}
	word := regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	for _, d := range cat.Defaults() {
		for _, w := range word.FindAllString(d.File.Body, -1) {
			words[w] = true
		}
		for _, s := range d.Sources {
			views[s] = true
		}
	}
	for _, fs := range kpis.DefaultCriticalFields {
		for _, f := range fs {
			words[f] = true
		}
	}
	var names []string
	for v := range views {
		names = append(names, v)
	}
	sort.Strings(names)
	c, err := warehouse.ReadCatalog(context.Background(), st, names...)
	require.NoError(b, err)
	var qs []string
	for _, v := range names {
		var cols []string
		for _, col := range c[v] {
			if words[col.Name] {
				cols = append(cols, warehouse.QuoteIdentifier(col.Name))
			}
		}
		require.NotEmpty(b, cols, v)
		qs = append(qs, fmt.Sprintf("SELECT sum(cityHash64(%s)) FROM %s", strings.Join(cols, ", "), warehouse.QuoteIdentifier(v)))
	}
	return qs
}
