package cockpit

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// syncRow is the last sync run of one environment and table.
type syncRow struct {
	Environment, Table, RunID, Mode string
	Started                         time.Time
	Rows, Deleted                   uint64
	Requests, Throttled, Retries    uint64
	DurationMS                      uint64
	Status, Error, Note, Hint       string
	// HintKey is the message key of Hint.
	HintKey string
}

// sync is the sync page.
func (rq *request) sync(asCSV bool) {
	ctx := rq.r.Context()
	var rows []syncRow
	err := rq.c.query(ctx, `SELECT environment, table_name, argMax(run_id, started_at), argMax(mode, started_at), max(started_at),
		argMax(rows_upserted, started_at), argMax(rows_deleted, started_at), argMax(requests, started_at), argMax(throttled, started_at),
		argMax(retries, started_at), argMax(duration_ms, started_at), argMax(status, started_at), argMax(error, started_at), argMax(note, started_at)
		FROM sync_runs GROUP BY environment, table_name ORDER BY environment, table_name`, nil, func(r warehouse.Rows) error {
		var x syncRow
		err := r.Scan(&x.Environment, &x.Table, &x.RunID, &x.Mode, &x.Started, &x.Rows, &x.Deleted, &x.Requests, &x.Throttled,
			&x.Retries, &x.DurationMS, &x.Status, &x.Error, &x.Note)
		if x.Error != "" {
			x.HintKey = hintFor(x.Error)
		}
		rows = append(rows, x)
		return err
	})
	if err != nil {
		rq.failed("sync_runs", err)
		return
	}
	if asCSV {
		rq.csv("sync", []string{"environment", "table_name", "run_id", "mode", "started_at", "rows_upserted", "rows_deleted", "requests", "throttled",
			"retries", "duration_ms", "status", "error", "note"}, len(rows), func(i int) []string {
			x := rows[i]
			u := func(v uint64) string { return strconv.FormatUint(v, 10) }
			return []string{x.Environment, x.Table, x.RunID, x.Mode, x.Started.UTC().Format(time.RFC3339), u(x.Rows), u(x.Deleted), u(x.Requests),
				u(x.Throttled), u(x.Retries), u(x.DurationMS), x.Status, x.Error, x.Note}
		})
		return
	}
	var untracked []syncRow
	for _, x := range rows {
		if noChangeTracking(x) {
			untracked = append(untracked, x)
		}
	}
	for i := range rows {
		if rows[i].HintKey != "" {
			rows[i].Hint = rq.T(rows[i].HintKey)
		}
	}
	rq.render(http.StatusOK, "sync", "sync", map[string]any{"Rows": rows, "Untracked": untracked})
}

// noChangeTracking says whether a table is synced without Dataverse's
// change tracking: by watermark, or with the connector's note that says
// so ("change tracking is off for this table: …").
func noChangeTracking(x syncRow) bool {
	return x.Mode == "watermark" || strings.Contains(strings.ToLower(x.Note), "change tracking is off")
}

// hintFor picks the fix hint (a message key) for a sync error.
func hintFor(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "prvread") || strings.Contains(m, "privilege"):
		return "hint_privilege"
	case strings.Contains(m, "401") || strings.Contains(m, "403") || strings.Contains(m, "token") || strings.Contains(m, "unauthorized") || strings.Contains(m, "aadsts"):
		return "hint_auth"
	case strings.Contains(m, "429") || strings.Contains(m, "throttl"):
		return "hint_throttle"
	case strings.Contains(m, "timeout") || strings.Contains(m, "deadline exceeded"):
		return "hint_timeout"
	case strings.Contains(m, "type") && strings.Contains(m, "column"):
		return "hint_schema"
	case strings.Contains(m, "404") || strings.Contains(m, "not found") || strings.Contains(m, "does not exist"):
		return "hint_notfound"
	}
	return "hint_other"
}
