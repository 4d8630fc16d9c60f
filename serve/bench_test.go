package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ampel/ampel/export"
	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// bigMarts serves one entity set, big, over mart_big, whose columns it
// read once (as marts know their sets from their definitions).
type bigMarts struct{ cols []warehouse.Column }

func (bigMarts) Current(context.Context) (uint64, error) { return 1, nil }
func (m bigMarts) Sets(context.Context) ([]serve.EntitySet, error) {
	return []serve.EntitySet{{Name: "big", Key: []string{"id"}, Columns: m.cols}}, nil
}
func (bigMarts) Table(string) string { return "mart_big" }

// resetPeakRSS starts a new peak of this process's resident memory
// (Linux: clear_refs 5 resets VmHWM).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset the peak RSS: %v", err)
	}
}

// cpuSeconds is the user and system CPU time this process has used.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS is VmHWM in MiB.
func peakRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkFeed serves a mart of 1M rows the way Power BI reads it —
// every page through the nextLinks, at the server's default page size —
// beside the baseline of ampel sql --format json: export.Write of the same
// rows in the same order, in the same process. Each run reads the set
// through the feed, through the feed with one statement per page
// (KeptReads -1: how the feed read before it kept statements between
// pages), then exports it (so they alternate, and a noisy machine slows
// all alike), and reports rows/s and peak RSS and the ratios feed/export
// and per-page/export, at 100k and 1M rows, on both engines; the figure
// is the median ratio of several runs (-count). The -CPU ratios compare
// the CPU seconds the process spent (the embedded engine's work
// included; with a server only Ampel's), export's over the feed's, so
// above 1 the feed costs less per row: they swing less with the
// machine's load than the rates.
//
//	deploy/with-test-clickhouse.sh go test -run '^$' -bench BenchmarkFeed -benchtime 1x -count 3 ./serve
func BenchmarkFeed(b *testing.B) {
	for _, cfg := range warehousetest.All(b) {
		b.Run(cfg.Driver, func(b *testing.B) { benchmarkFeed(b, cfg) })
	}
}

func benchmarkFeed(b *testing.B, cfg warehouse.Config) {
	st := warehousetest.Open(b, cfg)
	warehousetest.Exec(b, st, "CREATE TABLE mart_big (id Int64, name String, email Nullable(String), amount Decimal(18, 2), "+
		"created DateTime('UTC'), day Date, flag UInt8, _snapshot UInt64) ENGINE = MergeTree PARTITION BY _snapshot ORDER BY (_snapshot, id)")
	warehousetest.Exec(b, st, "INSERT INTO mart_big SELECT toInt64(number), concat('Lead ', toString(number)), "+
		"if(number % 3 = 0, NULL, concat('lead', toString(number), '@example.com')), toDecimal64(number % 100000, 2), "+
		"toDateTime(1700000000 + number, 'UTC'), toDate(toDateTime(1700000000 + number * 60, 'UTC')), toUInt8(number % 2), 1 FROM numbers(1000000)")
	cols, err := warehouse.TableColumns(warehousetest.Context(b), st, "mart_big")
	if err != nil {
		b.Fatal(err)
	}
	// start serves the feed: the one Power BI reads (one statement for
	// all pages, kept between them), or with kept -1 one statement per page
	start := func(kept int) string {
		s, err := serve.New(serve.Options{Store: st, Marts: bigMarts{cols}, Keys: []serve.Key{serve.KeyFromSecret("b", testKey)}, KeptReads: kept})
		if err != nil {
			b.Fatal(err)
		}
		ln, err := serve.Listen("127.0.0.1:0", "", "")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx, ln) }()
		b.Cleanup(func() { cancel(); <-done })
		return "http://" + ln.Addr().String() + "/odata/big"
	}
	kept, paged := start(0), start(-1)
	client := &http.Client{Timeout: 5 * time.Minute}

	// feed reads the first n rows through every nextLink, as Power BI does.
	feed := func(b *testing.B, base string, n int) {
		rows := 0
		var buf bytes.Buffer
		for u := base + "?$filter=id%20lt%20" + strconv.Itoa(n); u != ""; {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.SetBasicAuth("bench", testKey)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			buf.Reset()
			_, err = io.Copy(&buf, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %d %v", u, resp.StatusCode, err)
			}
			rows += bytes.Count(buf.Bytes(), []byte(`{"id":`))
			u = ""
			if j := bytes.LastIndex(buf.Bytes(), []byte(`"@odata.nextLink":"`)); j >= 0 {
				rest := buf.Bytes()[j+len(`"@odata.nextLink":"`):]
				u = string(rest[:bytes.IndexByte(rest, '"')])
			}
		}
		if rows != n {
			b.Fatalf("read %d rows, want %d", rows, n)
		}
	}
	// export is ampel sql --format json of the same rows.
	export := func(b *testing.B, n int) {
		rows, err := st.Query(warehouse.ReadOnly(context.Background()),
			"SELECT id, name, email, amount, created, day, flag FROM mart_big WHERE _snapshot = 1 AND id < ? ORDER BY id", n)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		out, _ := export.New(io.Discard, "json")
		if err := export.Write(out, rows); err != nil {
			b.Fatal(err)
		}
	}
	// timed runs f once, returning its seconds, the process's CPU seconds
	// (the embedded engine's included) and the peak RSS meanwhile.
	timed := func(b *testing.B, f func()) (sec, cpu, rss float64) {
		resetPeakRSS(b)
		cpu0 := cpuSeconds(b)
		start := time.Now()
		f()
		return time.Since(start).Seconds(), cpuSeconds(b) - cpu0, peakRSS(b)
	}

	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			var feedSec, pagedSec, exportSec, feedCPU, pagedCPU, exportCPU, feedRSS, exportRSS float64
			for i := 0; i < b.N; i++ {
				fs, fc, fr := timed(b, func() { feed(b, kept, n) })
				ps, pc, _ := timed(b, func() { feed(b, paged, n) })
				es, ec, er := timed(b, func() { export(b, n) })
				feedSec, pagedSec, exportSec = feedSec+fs, pagedSec+ps, exportSec+es
				feedCPU, pagedCPU, exportCPU = feedCPU+fc, pagedCPU+pc, exportCPU+ec
				feedRSS, exportRSS = max(feedRSS, fr), max(exportRSS, er)
			}
			rows := float64(n * b.N)
			b.ReportMetric(rows/feedSec, "feed-rows/s")
			b.ReportMetric(rows/exportSec, "export-rows/s")
			b.ReportMetric(exportSec/feedSec, "feed/export")
			b.ReportMetric(exportSec/pagedSec, "per-page/export")
			b.ReportMetric(exportCPU/feedCPU, "feed/export-CPU")
			b.ReportMetric(exportCPU/pagedCPU, "per-page/export-CPU")
			b.ReportMetric(feedRSS, "feed-peak-RSS-MiB")
			b.ReportMetric(exportRSS, "export-peak-RSS-MiB")
		})
	}
}
