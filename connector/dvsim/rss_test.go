package dvsim

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPeakRSS1M starts a simulator at scale 1M and reports the
// process's peak RSS (VmHWM), the heap in use and the generation time. Run
// it alone, as the peak is the process's:
//
//	go test -run '^$' -bench BenchmarkPeakRSS1M ./connector/dvsim
func BenchmarkPeakRSS1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		s := start(b, Options{Seed: 1, Scale: 1_000_000})
		gen := time.Since(t0)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(statusKB(b, "VmHWM"))/1024, "peak_rss_MB")
		b.ReportMetric(float64(ms.HeapInuse>>20), "heap_MB")
		b.ReportMetric(gen.Seconds(), "generate_s")
		b.ReportMetric(float64(s.leads.n), "leads")
		s.Close()
	}
}

// statusKB reads a kB field of /proc/self/status.
func statusKB(tb testing.TB, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no %s in /proc/self/status", field)
	return 0
}
