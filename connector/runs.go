package connector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
)

// TableResult is what one table's sync did; it becomes one sync_runs row.
type TableResult struct {
	RunID       string
	Environment string
	Table       string
	// Mode is how the table was read (ModeFull, ModeDelta, ModeWatermark,
	// ModeReload, ModeTracking). A table that failed before its read began has the mode
	// its stored state called for, or ModeUnknown when that state could
	// not be read.
	Mode      string
	Started   time.Time
	Finished  time.Time
	Upserted  uint64
	Deleted   uint64
	Pages     uint32
	Requests  uint32
	Throttled uint32
	Retries   uint32
	Bytes     uint64
	Status    string // ok, failed, canceled
	Err       error
	Note      string // e.g. deletes found by reading its keys; reloaded because …
}

// ModeUnknown is the mode of a table that failed before its read began
// when its stored state could not be read either.
const ModeUnknown = "unknown"

// plannedMode is the mode a table's read would have had, by its stored
// state st (have: there is one) and whether a full load was asked for.
func plannedMode(full bool, st state, have bool) string {
	switch {
	case full || !have:
		return ModeFull
	case st.Mode == ModeDelta || st.Mode == ModeWatermark || st.Mode == ModeReload || st.Mode == ModeTracking:
		return st.Mode
	}
	return ModeFull
}

// Run statuses.
const (
	StatusOK       = "ok"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
)

var runColumns = []string{"run_id", "environment", "table_name", "mode", "started_at", "finished_at",
	"rows_upserted", "rows_deleted", "pages", "requests", "throttled", "retries", "bytes",
	"duration_ms", "status", "error", "note"}

// recordRuns writes results to sync_runs. It ignores ctx's cancellation so
// that a canceled sync still records how far it got.
func recordRuns(ctx context.Context, s warehouse.Store, results []TableResult) error {
	if len(results) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	b, err := s.PrepareInsert(ctx, "sync_runs", runColumns)
	if err != nil {
		return fmt.Errorf("record sync runs: %w", err)
	}
	for _, r := range results {
		msg := ""
		if r.Err != nil {
			msg = r.Err.Error()
		}
		err := b.Append(r.RunID, r.Environment, r.Table, r.Mode, r.Started.UTC(), r.Finished.UTC(),
			r.Upserted, r.Deleted, r.Pages, r.Requests, r.Throttled, r.Retries, r.Bytes,
			uint64(r.Finished.Sub(r.Started).Milliseconds()), r.Status, msg, r.Note)
		if err != nil {
			b.Abort()
			return fmt.Errorf("record sync runs: %w", err)
		}
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("record sync runs: %w", err)
	}
	return nil
}

// RecordFailure records in sync_runs that every table of tables failed in
// environment env before its sync could start (no token, no application
// user), and returns those results. Admins find the reason where they
// look for every other failure. Each row's mode is the one the table's
// sync would have had (full says a full load was asked for).
func RecordFailure(ctx context.Context, s warehouse.Store, runID, env string, tables []Table, full bool, err error) ([]TableResult, error) {
	now := time.Now().UTC()
	states, stErr := loadStates(context.WithoutCancel(ctx), s, env)
	results := make([]TableResult, len(tables))
	for i, t := range tables {
		st, have := states[t.Name]
		mode := plannedMode(full, st, have)
		if stErr != nil && !full {
			mode = ModeUnknown
		}
		results[i] = TableResult{RunID: runID, Environment: env, Table: t.Name, Mode: mode, Started: now, Finished: now, Status: StatusFailed, Err: err}
	}
	return results, recordRuns(ctx, s, results)
}

// ErrorGroup is one cause of failure shared by tables of an environment.
// It is an error itself: "lead, opportunity and 2 more tables: <cause>".
type ErrorGroup struct {
	Environment string
	// Tables failed with Err (their first error stands for all).
	Tables []string
	Err    error
	// Of is the number of tables of the environment in the run.
	Of int
}

func (g *ErrorGroup) Error() string { return g.Which() + ": " + g.Err.Error() }

// Unwrap returns the first table's error.
func (g *ErrorGroup) Unwrap() error { return g.Err }

// Which names the group's tables: "lead", "all 14 tables", "lead,
// opportunity and quote" or "lead, opportunity, quote and 9 more tables".
func (g *ErrorGroup) Which() string {
	n := len(g.Tables)
	switch {
	case n == 1:
		return g.Tables[0]
	case n == g.Of:
		return fmt.Sprintf("all %d tables", n)
	case n <= 3:
		return strings.Join(g.Tables[:n-1], ", ") + " and " + g.Tables[n-1]
	}
	return fmt.Sprintf("%s and %d more tables", strings.Join(g.Tables[:3], ", "), n-3)
}

// GroupErrors groups the failed results by environment and cause, in
// the order of their first table, so a failure the whole environment
// shares (credentials, DNS, the warehouse) is said once rather than once
// per table. Two errors have the same cause when they carry the same
// Entra ID refusal, the same Dataverse answer apart from the request's
// path, table and retries, or the same text.
func GroupErrors(results []TableResult) []*ErrorGroup {
	var groups []*ErrorGroup
	byKey := map[string]*ErrorGroup{}
	count := map[string]int{}
	for _, r := range results {
		count[r.Environment]++
	}
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		key := r.Environment + "\x00" + errorCause(r.Err)
		g := byKey[key]
		if g == nil {
			g = &ErrorGroup{Environment: r.Environment, Err: r.Err, Of: count[r.Environment]}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.Tables = append(g.Tables, r.Table)
	}
	return groups
}

// errorCause is err's text without what names one table's request.
func errorCause(err error) string {
	var auth *dataverse.AuthError
	var api *dataverse.APIError
	switch {
	case errors.As(err, &auth):
		return auth.Error()
	case errors.As(err, &api):
		// the same answer after a different number of retries is the
		// same cause
		c := *api
		c.Path, c.Table = "", ""
		c.Attempts, c.Waited = 0, 0
		return c.Error()
	}
	return err.Error()
}
