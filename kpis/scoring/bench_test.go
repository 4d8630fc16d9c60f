package scoring_test

import (
	"context"
	"fmt"
	"os"
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
// Beside them, before_score/scan: the scoring statement as the compiler
// made it before leads and activities were joined on a numbered
// environment (scoring.SetStringJoinKey), in the same run. Each iteration
// runs the model four times, new, old, old, new, so that neither gets
// the other's warm caches more; the figures are the means per run.
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
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), kpistest.CPUTime()
		for _, q := range scans {
			rows, err := st.Query(ctx, q)
			require.NoError(b, err)
			for rows.Next() {
			}
			require.NoError(b, rows.Err())
			rows.Close()
		}
		scan += time.Since(t0)
		scanCPU += kpistest.CPUTime() - c0
		k := 0
		runOld := func() {
			k++
			was := scoring.SetStringJoinKey(true)
			old, err := scoring.Run(ctx, scoring.Options{Store: st, Models: models, Refs: []string{"bench20"}, RunID: fmt.Sprintf("bench-before-%d-%d", i, k)})
			scoring.SetStringJoinKey(was)
			require.NoError(b, err)
			require.Empty(b, old.Failed)
			before += old.Models[0].ScoreTook
		}
		runNew := func() {
			k++
			c0 := kpistest.CPUTime()
			rep, err := scoring.Run(ctx, scoring.Options{Store: st, Models: models, Refs: []string{"bench20"}, RunID: fmt.Sprintf("bench-%d-%d", i, k)})
			require.NoError(b, err)
			runCPU += kpistest.CPUTime() - c0
			require.Empty(b, rep.Failed)
			score += rep.Models[0].ScoreTook
			backtest += rep.Models[0].BacktestTook
			leads = rep.Models[0].Leads
		}
		// new, old, old, new: neither profits more from the other's caches
		runNew()
		runOld()
		runOld()
		runNew()
	}
	b.StopTimer()
	require.GreaterOrEqual(b, leads, uint64(scale))
	n := float64(b.N)
	score, backtest, before, runCPU = score/2, backtest/2, before/2, runCPU/2 // each ran twice per iteration
	b.ReportMetric(score.Seconds()/n, "score_s")
	b.ReportMetric(backtest.Seconds()/n, "backtest_s")
	b.ReportMetric(scan.Seconds()/n, "scan_s")
	b.ReportMetric(score.Seconds()/scan.Seconds(), "score/scan")
	b.ReportMetric(before.Seconds()/scan.Seconds(), "before_score/scan")
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
