package connector

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// Progress hears how a sync goes. Calls come from several goroutines.
type Progress interface {
	// TableStarted: a table's sync began; total is the number of rows a
	// full load expects, or -1 when unknown (deltas).
	TableStarted(env, table, mode string, total int64)
	// Rows: n more rows (upserts and deletes) of the table are in the
	// warehouse.
	Rows(env, table string, n int)
	// TableDone: the table finished, well or not.
	TableDone(r TableResult)
}

// LogProgress logs a line when a table starts and ends, and every interval
// while it runs: for logs and non-terminal output.
func LogProgress(log *slog.Logger, interval time.Duration) Progress {
	return &logProgress{log: log, interval: interval, tables: map[string]*tableProgress{}}
}

type tableProgress struct {
	env, table, mode string
	total            int64
	rows             int64
	started          time.Time
	last             time.Time
	done             bool
	result           TableResult
}

func (t *tableProgress) rate(now time.Time) float64 {
	secs := now.Sub(t.started).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(t.rows) / secs
}

// eta estimates the time left of a load with a known total.
func (t *tableProgress) eta(now time.Time) (time.Duration, bool) {
	r := t.rate(now)
	if t.total <= 0 || r <= 0 || t.rows >= t.total {
		return 0, false
	}
	return time.Duration(float64(t.total-t.rows) / r * float64(time.Second)), true
}

type logProgress struct {
	log      *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	tables   map[string]*tableProgress
}

func (p *logProgress) TableStarted(env, table, mode string, total int64) {
	now := time.Now()
	p.mu.Lock()
	p.tables[env+"/"+table] = &tableProgress{env: env, table: table, mode: mode, total: total, started: now, last: now}
	p.mu.Unlock()
	p.log.Info("sync table", "environment", env, "table", table, "mode", mode)
}

func (p *logProgress) Rows(env, table string, n int) {
	p.mu.Lock()
	t := p.tables[env+"/"+table]
	if t == nil {
		p.mu.Unlock()
		return
	}
	t.rows += int64(n)
	now := time.Now()
	report := now.Sub(t.last) >= p.interval
	if report {
		t.last = now
	}
	rows, rate := t.rows, t.rate(now)
	eta, hasETA := t.eta(now)
	p.mu.Unlock()
	if report {
		attrs := []any{"environment", env, "table", table, "rows", rows, "rows_per_s", int64(rate)}
		if hasETA {
			attrs = append(attrs, "eta", eta.Round(time.Second))
		}
		p.log.Info("sync progress", attrs...)
	}
}

func (p *logProgress) TableDone(r TableResult) {
	attrs := []any{"environment", r.Environment, "table", r.Table, "mode", r.Mode, "status", r.Status,
		"upserted", r.Upserted, "deleted", r.Deleted, "pages", r.Pages, "requests", r.Requests,
		"throttled", r.Throttled, "retries", r.Retries, "duration", r.Finished.Sub(r.Started).Round(time.Millisecond)}
	if r.Note != "" {
		attrs = append(attrs, "note", r.Note)
	}
	if r.Err != nil {
		p.log.Error("sync table failed", append(attrs, "error", r.Err.Error())...)
		return
	}
	p.log.Info("sync table done", attrs...)
}

// TerminalProgress redraws one line per table on w, a terminal, at most
// every interval: rows, rate and, on a first load, the ETA.
func TerminalProgress(w io.Writer, interval time.Duration) Progress {
	return &termProgress{w: w, interval: interval, tables: map[string]*tableProgress{}}
}

type termProgress struct {
	w        io.Writer
	interval time.Duration
	mu       sync.Mutex
	tables   map[string]*tableProgress
	lines    int // lines drawn last time, to move the cursor back over
	drawn    time.Time
}

func (p *termProgress) TableStarted(env, table, mode string, total int64) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tables[env+"/"+table] = &tableProgress{env: env, table: table, mode: mode, total: total, started: now}
	p.draw(now, true)
}

func (p *termProgress) Rows(env, table string, n int) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.tables[env+"/"+table]; t != nil {
		t.rows += int64(n)
	}
	p.draw(now, false)
}

func (p *termProgress) TableDone(r TableResult) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.tables[r.Environment+"/"+r.Table]; t != nil {
		t.done, t.result, t.mode = true, r, r.Mode
		t.rows = int64(r.Upserted + r.Deleted)
	}
	p.draw(now, true)
}

// draw rewrites the table lines in place; must hold p.mu.
func (p *termProgress) draw(now time.Time, force bool) {
	if !force && now.Sub(p.drawn) < p.interval {
		return
	}
	p.drawn = now
	keys := make([]string, 0, len(p.tables))
	for k := range p.tables {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return p.tables[keys[i]].started.Before(p.tables[keys[j]].started) })
	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.lines)
	}
	for _, k := range keys {
		t := p.tables[k]
		b.WriteString("\r\x1b[2K")
		b.WriteString(progressLine(t, now))
		b.WriteByte('\n')
	}
	p.lines = len(keys)
	io.WriteString(p.w, b.String())
}

func progressLine(t *tableProgress, now time.Time) string {
	name := t.table
	if t.env != "" {
		name = t.env + "/" + t.table
	}
	if t.done {
		r := t.result
		took := r.Finished.Sub(r.Started).Round(time.Millisecond)
		line := fmt.Sprintf("%-28s %-9s %s  %d upserted, %d deleted in %s", name, r.Mode, r.Status, r.Upserted, r.Deleted, took)
		if r.Throttled > 0 {
			line += fmt.Sprintf(", %d throttled", r.Throttled)
		}
		if r.Err != nil {
			line += ": " + r.Err.Error()
		} else if r.Note != "" {
			line += " (" + r.Note + ")"
		}
		return line
	}
	line := fmt.Sprintf("%-28s %-9s %9d rows  %7.0f rows/s", name, t.mode, t.rows, t.rate(now))
	if t.total > 0 && t.rows <= t.total { // the count is a snapshot: rows may outrun it
		line += fmt.Sprintf("  %3.0f%%", 100*float64(t.rows)/float64(t.total))
	}
	if eta, ok := t.eta(now); ok {
		line += "  ETA " + eta.Round(time.Second).String()
	}
	return line
}
