package connector_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/warehouse"
)

// timeline records where a sync's time goes, for BenchmarkRemoteSync's
// AMPEL_BENCH_TIMELINE=<file>: every request (sent, headers answered,
// body read to its end; the entity set and whether it is a createdon
// range, the walk or a metadata/count request), every INSERT (start and
// end, its rows), every other statement, the rows each table wrote
// (Progress.Rows) and, every 100 ms, the CPU time of this process and of
// the simulator's. Each event is one TSV line: seconds since the start,
// kind, table, detail, duration in seconds. It is a tool for reading a run,
// not a figure: the figures are the benchmark's.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	lines []string
}

func newTimeline() *timeline { return &timeline{start: time.Now()} }

func (t *timeline) add(at time.Time, kind, table, detail string, took time.Duration) {
	line := fmt.Sprintf("%.3f\t%s\t%s\t%s\t%.3f", at.Sub(t.start).Seconds(), kind, table, detail, took.Seconds())
	t.mu.Lock()
	t.lines = append(t.lines, line)
	t.mu.Unlock()
}

// write sorts the events by time and writes them to path.
func (t *timeline) write(tb testing.TB, path string) {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.SortStableFunc(t.lines, func(a, b string) int {
		var x, y float64
		_, _ = fmt.Sscan(a[:strings.IndexByte(a, '\t')], &x)
		_, _ = fmt.Sscan(b[:strings.IndexByte(b, '\t')], &y)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	require.NoError(tb, os.WriteFile(path, []byte("t\tkind\ttable\tdetail\tseconds\n"+strings.Join(t.lines, "\n")+"\n"), 0o644))
}

// sampleCPU records the CPU time of this process and of the simulator's
// every 100 ms until stop is closed.
func (t *timeline) sampleCPU(tb testing.TB, sim *remoteSim, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	self, other := cpuTime(), sim.cpu(tb)
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			s, o := cpuTime(), sim.cpu(tb)
			// the CPU used over the last 100 ms, in cores
			t.add(now, "cpu", "", fmt.Sprintf("sync %.2f sim %.2f", (s-self).Seconds()/0.1, (o-other).Seconds()/0.1), 0)
			self, other = s, o
		}
	}
}

// transport records each request of the sync.
func (t *timeline) transport(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		sent := time.Now()
		set, what := requestKind(req.URL)
		resp, err := next.RoundTrip(req)
		if err != nil {
			t.add(sent, "request-error", set, what, time.Since(sent))
			return resp, err
		}
		t.add(sent, "request", set, what, time.Since(sent))
		resp.Body = &timedBody{ReadCloser: resp.Body, t: t, set: set, what: what, sent: sent}
		return resp, nil
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// requestKind names a request's entity set and what it reads.
func requestKind(u *url.URL) (set, what string) {
	p := strings.TrimPrefix(u.Path, "/api/data/v9.2/")
	set, _, _ = strings.Cut(p, "(")
	set, _, _ = strings.Cut(set, "/")
	q := u.Query()
	switch {
	case strings.HasPrefix(p, "EntityDefinitions") || strings.HasPrefix(p, "RetrieveTotalRecordCount") || strings.Contains(p, "Metadata"):
		what = "metadata"
	case q.Get("$filter") != "":
		what = "range"
	case q.Get("$skiptoken") != "" || q.Get("$deltatoken") != "":
		what = "next"
	default:
		what = "first"
	}
	return set, what
}

type timedBody struct {
	io.ReadCloser
	t          *timeline
	set, what  string
	sent       time.Time
	n          int
	eof, ended bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += n
	if err == io.EOF && !b.eof {
		b.eof = true
		b.t.add(b.sent, "body", b.set, fmt.Sprintf("%s %d KB", b.what, b.n>>10), time.Since(b.sent))
	}
	return n, err
}

// timedStore records each INSERT's Send and every other statement.
type timedStore struct {
	warehouse.Store
	t *timeline
}

func (s timedStore) Exec(ctx context.Context, query string, args ...any) error {
	start := time.Now()
	err := s.Store.Exec(ctx, query, args...)
	s.t.add(start, "exec", "", firstWords(query), time.Since(start))
	return err
}

func (s timedStore) PrepareInsert(ctx context.Context, table string, columns []string) (warehouse.Batch, error) {
	b, err := s.Store.PrepareInsert(ctx, table, columns)
	if err != nil {
		return b, err
	}
	return &timedBatch{Batch: b, t: s.t, table: table}, nil
}

func firstWords(q string) string {
	f := strings.Fields(q)
	return strings.Join(f[:min(len(f), 4)], " ")
}

type timedBatch struct {
	warehouse.Batch
	t     *timeline
	table string
}

func (b *timedBatch) Send(ctx context.Context) error {
	start, n := time.Now(), b.Rows()
	err := b.Batch.Send(ctx)
	b.t.add(start, "insert", b.table, fmt.Sprintf("%d rows", n), time.Since(start))
	return err
}

// progress records the tables' starts, rows and ends.
type timelineProgress struct{ t *timeline }

func (p timelineProgress) TableStarted(_, table, mode string, total int64) {
	p.t.add(time.Now(), "table-start", table, fmt.Sprintf("%s %d rows", mode, total), 0)
}

func (p timelineProgress) Rows(_, table string, n int) {
	p.t.add(time.Now(), "rows", table, fmt.Sprint(n), 0)
}

func (p timelineProgress) TableDone(r connector.TableResult) {
	p.t.add(r.Finished, "table-done", r.Table, fmt.Sprintf("%s %d rows %d requests: %s", r.Mode, r.Upserted, r.Requests, r.Note), r.Finished.Sub(r.Started))
}
