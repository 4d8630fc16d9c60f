package dvsim

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPeakRSS1M measures peak RSS after starting at scale 1M. Run with
// DVSIM_RSS=1 go test -run TestPeakRSS1M -v ./connector/dvsim
func TestPeakRSS1M(t *testing.T) {
	if os.Getenv("DVSIM_RSS") == "" {
		t.Skip("set DVSIM_RSS=1 to measure peak RSS at scale 1M")
	}
	t0 := time.Now()
	s := start(t, Options{Seed: 1, Scale: 1_000_000})
	gen := time.Since(t0)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/status")
	var hwm, rss string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM") {
			hwm = strings.TrimSpace(l[6:])
		}
		if strings.HasPrefix(l, "VmRSS") {
			rss = strings.TrimSpace(l[6:])
		}
	}
	t.Logf("generated in %v; VmHWM %s VmRSS %s heap in use %d MB; rows: leads %d activities %d accounts %d", gen, hwm, rss, ms.HeapInuse>>20,
		s.leads.n, s.acts.n, s.accounts.n)
}
