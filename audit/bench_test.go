package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// The benchmark runs each phase in a child process (this test binary again, see benchChild),
// so that a phase's peak RSS is its own: the simulator and the sync live in one child, the
// audit in another, and the baseline — the engine reading the same columns the audit reads,
// and nothing else — in a third.
const (
	envChild   = "AMPEL_AUDIT_BENCH_CHILD" // sync | scan | audit
	envDir     = "AMPEL_AUDIT_BENCH_DIR"
	envLibrary = "AMPEL_AUDIT_BENCH_LIBRARY"
	envScale   = "AMPEL_AUDIT_BENCH_SCALE"
)

// childReport is what a child prints on stdout.
type childReport struct {
	Seconds    float64 // wall clock
	CPUSeconds float64 // user + system CPU of the phase (the engine's too: it runs in process)
	Tables     map[string]childTable
	// BenchmarkAudit: the second run's wall clock and CPU seconds, the open findings, the
	// rows the baseline read.
	Second, SecondCPU float64
	Findings, Rows    int
}

type childTable struct {
	Records, PairsCompared int
	F1, Precision, Recall  float64
	ExactRecall            float64
	Load, Compare          float64
}

var benchPrev map[string]float64 // figures of the previous (smaller) scale

// BenchmarkDuplicates syncs the simulator's leads, contacts and accounts at 100k and 1M leads
// into an embedded warehouse and runs the duplicate audit (default fuzzy models and exact
// rules) over them. It reports the audit's time (wall clock, and CPU seconds, which a busy
// shared machine disturbs less) and peak RSS beside a plain read of the same columns (scan_s,
// scan_peak_rss_MB: the engine's share), the pairs compared per table beside n²/2, the fuzzy
// rules' F1 against the planted truth, and at 1M how time and pairs grew from 100k (target:
// at most 12x). Run it alone:
//
//	deploy/with-test-clickhouse.sh go test -run '^$' -bench BenchmarkDuplicates -benchtime 1x ./audit
func BenchmarkDuplicates(b *testing.B) {
	lib := warehousetest.Embedded(b).Library
	for _, scale := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("leads=%d", scale), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				run := func(phase string) (childReport, int64) {
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), envChild+"="+phase, envDir+"="+dir, envLibrary+"="+lib, fmt.Sprintf("%s=%d", envScale, scale))
					cmd.Stderr = os.Stderr
					out, err := cmd.Output()
					require.NoError(b, err, "%s child: %s", phase, out)
					var rep childReport
					require.NoError(b, json.Unmarshal(out, &rep), "%s child: %s", phase, out)
					return rep, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
				}
				syncRep, _ := run("sync")
				scanRep, scanRSS := run("scan")
				auditRep, auditRSS := run("audit")
				b.ReportMetric(syncRep.Seconds, "sync_s")
				b.ReportMetric(scanRep.Seconds, "scan_s")
				b.ReportMetric(auditRep.Seconds, "audit_s")
				b.ReportMetric(scanRep.CPUSeconds, "scan_cpu_s")
				b.ReportMetric(auditRep.CPUSeconds, "audit_cpu_s")
				b.ReportMetric(float64(scanRSS)/1024, "scan_peak_rss_MB")
				b.ReportMetric(float64(auditRSS)/1024, "audit_peak_rss_MB")
				figures := map[string]float64{"audit_s": auditRep.Seconds, "audit_cpu_s": auditRep.CPUSeconds}
				for _, table := range dupTables {
					t := auditRep.Tables[table]
					n := float64(t.Records)
					b.ReportMetric(n, table+"_records")
					b.ReportMetric(float64(t.PairsCompared), table+"_pairs")
					b.ReportMetric(n*n/2, table+"_n2_half")
					b.ReportMetric(t.F1, table+"_F1")
					b.ReportMetric(t.Precision, table+"_precision")
					b.ReportMetric(t.Recall, table+"_recall")
					b.ReportMetric(t.ExactRecall, table+"_exact_recall")
					figures[table+"_pairs"] = float64(t.PairsCompared)
				}
				if benchPrev != nil && benchPrev["audit_s"] > 0 {
					b.ReportMetric(auditRep.Seconds/benchPrev["audit_s"], "time_growth")
					b.ReportMetric(auditRep.CPUSeconds/benchPrev["audit_cpu_s"], "cpu_time_growth")
					for _, table := range dupTables {
						if p := benchPrev[table+"_pairs"]; p > 0 {
							b.ReportMetric(figures[table+"_pairs"]/p, table+"_pairs_growth")
						}
					}
				}
				benchPrev = figures
			}
		})
	}
}

// BenchmarkAudit syncs every default table of the simulator at 100k and 1M leads (445k and
// 4.4M rows) into an embedded warehouse and runs the whole audit — every built-in rule —
// twice: the first run finds everything new, the second compares with the first (the
// steady state of ampel run). It reports both runs' time (wall clock and CPU seconds) and
// peak RSS beside a plain read of every row of the views the rules read (scan_*), the
// findings, and at 1M how the time grew from 100k (target: at most 12x). Run it alone:
//
//	deploy/with-test-clickhouse.sh go test -run '^$' -bench BenchmarkAudit -benchtime 1x ./audit
func BenchmarkAudit(b *testing.B) {
	lib := warehousetest.Embedded(b).Library
	var prev map[string]float64
	for _, scale := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("leads=%d", scale), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				run := func(phase string) (childReport, int64) {
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), envChild+"="+phase, envDir+"="+dir, envLibrary+"="+lib, fmt.Sprintf("%s=%d", envScale, scale))
					cmd.Stderr = os.Stderr
					out, err := cmd.Output()
					require.NoError(b, err, "%s child: %s", phase, out)
					var rep childReport
					require.NoError(b, json.Unmarshal(out, &rep), "%s child: %s", phase, out)
					return rep, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
				}
				syncRep, _ := run("sync-all")
				scanRep, scanRSS := run("scan-all")
				auditRep, auditRSS := run("audit-all")
				b.ReportMetric(syncRep.Seconds, "sync_s")
				b.ReportMetric(scanRep.Seconds, "scan_s")
				b.ReportMetric(scanRep.CPUSeconds, "scan_cpu_s")
				b.ReportMetric(float64(scanRSS)/1024, "scan_peak_rss_MB")
				b.ReportMetric(auditRep.Seconds, "audit_s")
				b.ReportMetric(auditRep.CPUSeconds, "audit_cpu_s")
				b.ReportMetric(auditRep.Second, "audit2_s")
				b.ReportMetric(auditRep.SecondCPU, "audit2_cpu_s")
				b.ReportMetric(float64(auditRSS)/1024, "audit_peak_rss_MB")
				b.ReportMetric(float64(auditRep.Findings), "findings")
				b.ReportMetric(float64(scanRep.Rows), "rows_scanned")
				if prev != nil {
					b.ReportMetric(auditRep.Seconds/prev["audit_s"], "time_growth")
					b.ReportMetric(auditRep.CPUSeconds/prev["audit_cpu_s"], "cpu_time_growth")
				}
				prev = map[string]float64{"audit_s": auditRep.Seconds, "audit_cpu_s": auditRep.CPUSeconds}
			}
		})
	}
}

// auditTables are the views the built-in rules read.
func auditTables() ([]string, error) {
	cat, err := audit.LoadCatalog(ampelsql.Audits, "", nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range cat.Defaults() {
		for _, t := range d.TableList() {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// benchChild runs one phase of BenchmarkDuplicates or BenchmarkAudit and prints its report.
func benchChild(phase string) error {
	ctx := context.Background()
	var scale int
	if _, err := fmt.Sscan(os.Getenv(envScale), &scale); err != nil {
		return err
	}
	dir := os.Getenv(envDir)
	st, err := warehouse.Open(ctx, warehouse.Config{Driver: "embedded", Path: filepath.Join(dir, "warehouse"), Library: os.Getenv(envLibrary)})
	if err != nil {
		return err
	}
	defer st.Close()
	rep := childReport{Tables: map[string]childTable{}}
	t0, c0 := time.Now(), cpuTime()
	switch phase {
	case "sync":
		if _, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{}); err != nil {
			return err
		}
		sim, err := dvsim.Start(dvsim.Options{Seed: 1, Scale: scale})
		if err != nil {
			return err
		}
		defer sim.Close()
		t0, c0 = time.Now(), cpuTime()
		syncSim(panicTB{}, st, sim, "sim")
		rep.Seconds = time.Since(t0).Seconds()
		truth := map[string][][]string{}
		for _, table := range dupTables {
			truth[table] = truthGroups(sim.Truth(), table)
		}
		data, err := json.Marshal(truth)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "truth.json"), data, 0o600); err != nil {
			return err
		}
	case "scan":
		// the audit's reads, without the audit: every column its models and rules read
		for _, m := range audit.DefaultModels() {
			cat, err := warehouse.ReadCatalog(ctx, st, m.Table)
			if err != nil {
				return err
			}
			have := map[string]bool{}
			for _, c := range cat[m.Table] {
				have[c.Name] = true
			}
			cols := "toString(" + m.Key + "), _environment"
			for _, f := range m.Fields {
				for _, c := range f.Columns {
					if have[c] {
						cols += ", ifNull(toString(" + c + "), '')"
					}
				}
			}
			rows, err := st.Query(ctx, "SELECT "+cols+" FROM "+m.Table+" WHERE ifNull(toUInt8(merged), 0) = 0")
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				_ = rows.Values()
				n++
			}
			if err := rows.Err(); err != nil {
				return err
			}
			rows.Close()
			rep.Tables[m.Table] = childTable{Records: n}
		}
		rep.Seconds = time.Since(t0).Seconds()
	case "audit":
		if file := os.Getenv("AMPEL_AUDIT_BENCH_CPUPROFILE"); file != "" { // for a closer look: go tool pprof
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		res, err := audit.Duplicates(ctx, st, audit.Options{})
		if err != nil {
			return err
		}
		rep.Seconds = time.Since(t0).Seconds()
		if file := os.Getenv("AMPEL_AUDIT_BENCH_MEMPROFILE"); file != "" { // allocations: go tool pprof -sample_index=alloc_space
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				return err
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "truth.json"))
		if err != nil {
			return err
		}
		var truth map[string][][]string
		if err := json.Unmarshal(data, &truth); err != nil {
			return err
		}
		for _, tr := range res.Tables {
			m := audit.Evaluate(audit.GroupIDs(tr.Fuzzy), truth[tr.Table])
			x := audit.Evaluate(audit.GroupIDs(tr.Exact), truth[tr.Table])
			rep.Tables[tr.Table] = childTable{Records: tr.Stats.Records, PairsCompared: tr.Stats.PairsCompared,
				F1: m.F1, Precision: m.Precision, Recall: m.Recall, ExactRecall: x.Recall,
				Load: tr.Stats.Load.Seconds(), Compare: tr.Stats.Compare.Seconds()}
			fmt.Fprintf(os.Stderr, "audit %s: %+v\n", tr.Table, tr.Stats)
		}
	case "sync-all":
		if _, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{}); err != nil {
			return err
		}
		sim, err := dvsim.Start(dvsim.Options{Seed: 1, Scale: scale})
		if err != nil {
			return err
		}
		defer sim.Close()
		t0, c0 = time.Now(), cpuTime()
		syncTables(panicTB{}, st, simClient(panicTB{}, sim))
		rep.Seconds = time.Since(t0).Seconds()
	case "scan-all":
		// every row of every view the rules read, once, with all its columns
		tables, err := auditTables()
		if err != nil {
			return err
		}
		n := 0
		for _, t := range tables {
			rows, err := st.Query(ctx, "SELECT * FROM "+warehouse.QuoteIdentifier(t))
			if err != nil {
				return err
			}
			for rows.Next() {
				_ = rows.Values()
				n++
			}
			if err := rows.Err(); err != nil {
				return err
			}
			rows.Close()
		}
		rep.Seconds = time.Since(t0).Seconds()
		rep.Rows = n
	case "audit-all":
		cat, err := audit.LoadCatalog(ampelsql.Audits, "", nil)
		if err != nil {
			return err
		}
		o := audit.RunOptions{Store: st, Catalog: cat, CriticalFields: kpis.DefaultCriticalFields}
		first, err := audit.Run(ctx, o)
		if err != nil {
			return err
		}
		if len(first.Failed) > 0 {
			return first.Failed[0].Err
		}
		rep.Seconds = time.Since(t0).Seconds()
		rep.CPUSeconds = (cpuTime() - c0).Seconds()
		t1, c1 := time.Now(), cpuTime()
		if _, err := audit.Run(ctx, o); err != nil {
			return err
		}
		rep.Findings = first.Count("")
		rep.Second, rep.SecondCPU = time.Since(t1).Seconds(), (cpuTime() - c1).Seconds()
		if file := os.Getenv("AMPEL_AUDIT_BENCH_MEMPROFILE"); file != "" { // go tool pprof -sample_index=alloc_space
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				return err
			}
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "audit-all: Go heap sys %d MB, heap in use now %d MB\n", ms.HeapSys>>20, ms.HeapInuse>>20)
		return json.NewEncoder(os.Stdout).Encode(rep)
	default:
		return fmt.Errorf("unknown phase %q", phase)
	}
	rep.CPUSeconds = (cpuTime() - c0).Seconds()
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// panicTB lets the test helpers run outside a test: a failure ends the child with a message.
type panicTB struct{ testing.TB }

func (panicTB) Helper() {}
func (panicTB) Errorf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (panicTB) FailNow() { panic("failed") }
