package scoring_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/kpis/scoring"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// BenchmarkScoring scores the leads of a synced simulator (1M leads and
// their activities; 20k with -short; AMPEL_BENCH_LEADS when set) on the
// embedded engine with a 20-rule model (testdata/bench/bench20/v1.yaml) and, in the same run,
// the baseline: one scan of the columns the model reads,
// SELECT sum(cityHash64(columns…)) over the lead and activitypointer
// views. It reports the scoring statement's time (every lead's score
// written to lead_scores), the backtest's, the scan's, and their ratio
// to the scan (target: scoring at most 3), and the CPU seconds of the
// process (the engine runs in it) for the scan and the whole run (score,
// backtest and their writes), steadier than wall time on a shared machine.
// Beside them, before_score/scan: scoring as the package did it before
// its last performance change (scoring.SetBefore: main at bc6aca0, the
// scoring INSERT's blocks squashed to the engine's default of a million
// rows rather than 524,288), in the same run. Each iteration runs the model four times,
// new, old, old, new, so that neither gets the other's warm caches more,
// with a scan before, between and after them; the figures are the means
// per run, and the median_ ones the medians of each run's ratio to the
// mean of the scans on its two sides (the load of a shared machine
// changes within seconds), in wall time for the scoring statement and in
// CPU seconds for the whole run (score and backtest, and the merges of
// lead_scores' parts running when it ends) before and after.
func BenchmarkScoring(b *testing.B) {
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
	models, err := scoring.Load(ampelsql.Scoring, "testdata/bench", os.DirFS("testdata/bench"))
	require.NoError(b, err)
	m, err := models.Resolve("bench20")
	require.NoError(b, err)
	require.Equal(b, 20, m.RuleCount())
	scans := []string{
		"SELECT sum(cityHash64(_environment, leadid, jobtitle, numberofemployees, estimatedamount_base, industrycode, address1_country, " +
			"address1_city, subject, companyname, emailaddress1, telephone1, leadsourcecode, leadsourcecodename, leadqualitycode)) FROM lead",
		"SELECT sum(cityHash64(_environment, regardingobjectid, regardingobjectidtype, activitytypecode, statecode, actualend)) FROM activitypointer",
	}
	kpistest.Settle(b, st)
	b.ResetTimer()
	var scan, score, backtest, scanCPU, runCPU, before time.Duration
	var leads uint64
	// ratios of each run to the mean of the scans right before and after
	// it: the machine's load changes within seconds
	var ratios, beforeRatios, cpuRatios, beforeCPURatios []float64
	scanOnce := func() (time.Duration, time.Duration) {
		t0, c0 := time.Now(), kpistest.CPUTime()
		for _, q := range scans {
			rows, err := st.Query(ctx, q)
			require.NoError(b, err)
			for rows.Next() {
			}
			require.NoError(b, rows.Err())
			rows.Close()
		}
		w, c := time.Since(t0), kpistest.CPUTime()-c0
		scan += w
		scanCPU += c
		return w, c
	}
	for i := 0; i < b.N; i++ {
		k := 0
		runOld := func() (time.Duration, time.Duration) {
			k++
			c0 := kpistest.CPUTime()
			was := scoring.SetBefore(true)
			old, err := scoring.Run(ctx, scoring.Options{Store: st, Models: models, Refs: []string{"bench20"}, RunID: fmt.Sprintf("bench-before-%d-%d", i, k)})
			scoring.SetBefore(was)
			require.NoError(b, err)
			kpistest.Settle(b, st) // the run's merges count with it, not in the next scan
			c := kpistest.CPUTime() - c0
			require.Empty(b, old.Failed)
			before += old.Models[0].ScoreTook
			return old.Models[0].ScoreTook, c
		}
		runNew := func() (time.Duration, time.Duration) {
			k++
			c0 := kpistest.CPUTime()
			rep, err := scoring.Run(ctx, scoring.Options{Store: st, Models: models, Refs: []string{"bench20"}, RunID: fmt.Sprintf("bench-%d-%d", i, k)})
			require.NoError(b, err)
			kpistest.Settle(b, st)
			c := kpistest.CPUTime() - c0
			runCPU += c
			require.Empty(b, rep.Failed)
			score += rep.Models[0].ScoreTook
			backtest += rep.Models[0].BacktestTook
			leads = rep.Models[0].Leads
			return rep.Models[0].ScoreTook, c
		}
		// scan, new, scan, old, scan, old, scan, new, scan: neither
		// profits more from the other's caches, and every run has a scan
		// on each side
		w0, c0 := scanOnce()
		for _, isNew := range []bool{true, false, false, true} {
			var took, cpu time.Duration
			if isNew {
				took, cpu = runNew()
			} else {
				took, cpu = runOld()
			}
			w1, c1 := scanOnce()
			around, aroundCPU := (w0+w1).Seconds()/2, (c0+c1).Seconds()/2
			if isNew {
				ratios = append(ratios, took.Seconds()/around)
				cpuRatios = append(cpuRatios, cpu.Seconds()/aroundCPU)
				b.Logf("iteration %d: new %.2f s beside scans %.2f / %.2f s: %.2fx; score+backtest %.2f CPU-s beside %.2f: %.2fx", i, took.Seconds(),
					w0.Seconds(), w1.Seconds(), ratios[len(ratios)-1], cpu.Seconds(), aroundCPU, cpuRatios[len(cpuRatios)-1])
			} else {
				beforeRatios = append(beforeRatios, took.Seconds()/around)
				beforeCPURatios = append(beforeCPURatios, cpu.Seconds()/aroundCPU)
				b.Logf("iteration %d: before %.2f s beside scans %.2f / %.2f s: %.2fx; score+backtest %.2f CPU-s beside %.2f: %.2fx", i, took.Seconds(),
					w0.Seconds(), w1.Seconds(), beforeRatios[len(beforeRatios)-1], cpu.Seconds(), aroundCPU, beforeCPURatios[len(beforeCPURatios)-1])
			}
			w0, c0 = w1, c1
		}
	}
	b.StopTimer()
	require.GreaterOrEqual(b, leads, uint64(scale))
	n := float64(b.N)
	score, backtest, before, runCPU = score/2, backtest/2, before/2, runCPU/2 // each ran twice per iteration
	scan, scanCPU = scan/5, scanCPU/5                                         // five scans per iteration
	b.ReportMetric(score.Seconds()/n, "score_s")
	b.ReportMetric(backtest.Seconds()/n, "backtest_s")
	b.ReportMetric(scan.Seconds()/n, "scan_s")
	b.ReportMetric(score.Seconds()/scan.Seconds(), "score/scan")
	b.ReportMetric(before.Seconds()/scan.Seconds(), "before_score/scan")
	b.ReportMetric(median(ratios), "median_score/scan")
	b.ReportMetric(median(beforeRatios), "median_before/scan")
	b.ReportMetric(median(cpuRatios), "median_run/scan_cpu")
	b.ReportMetric(median(beforeCPURatios), "median_before_run/scan_cpu")
	b.ReportMetric((score+backtest).Seconds()/scan.Seconds(), "run/scan")
	b.ReportMetric(scanCPU.Seconds()/n, "scan_cpu_s")
	b.ReportMetric(runCPU.Seconds()/n, "run_cpu_s")
	b.ReportMetric(runCPU.Seconds()/scanCPU.Seconds(), "run/scan_cpu")
	var size uint64
	rows, err := st.Query(ctx, "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = currentDatabase() AND table = 'lead_scores'")
	require.NoError(b, err)
	for rows.Next() {
		require.NoError(b, rows.Scan(&size))
	}
	rows.Close()
	b.ReportMetric(float64(size)/float64(leads)/n/4, "bytes/lead/run") // four runs per iteration
	b.Logf("leads=%d rules=%d: score %s (before %s), backtest %s, scan %s (%s)", leads, m.RuleCount(), (score / time.Duration(b.N)).Round(time.Millisecond),
		(before / time.Duration(b.N)).Round(time.Millisecond),
		(backtest / time.Duration(b.N)).Round(time.Millisecond), (scan / time.Duration(b.N)).Round(time.Millisecond), strings.Join(scans, "; "))
}

// median is the middle value of xs (the mean of the two middle ones for
// an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
