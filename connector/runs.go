package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// TableResult is what one table's sync did; it becomes one sync_runs row.
type TableResult struct {
	RunID       string
	Environment string
	Table       string
	Mode        string
	Started     time.Time
	Finished    time.Time
	Upserted    uint64
	Deleted     uint64
	Pages       uint32
	Requests    uint32
	Throttled   uint32
	Retries     uint32
	Bytes       uint64
	Status      string // ok, failed, canceled
	Err         error
	Note        string // e.g. deletes cannot be seen; reloaded because …
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
// look for every other failure.
func RecordFailure(ctx context.Context, s warehouse.Store, runID, env string, tables []Table, err error) ([]TableResult, error) {
	now := time.Now().UTC()
	results := make([]TableResult, len(tables))
	for i, t := range tables {
		results[i] = TableResult{RunID: runID, Environment: env, Table: t.Name, Started: now, Finished: now, Status: StatusFailed, Err: err}
	}
	return results, recordRuns(ctx, s, results)
}
