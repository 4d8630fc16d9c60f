package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// Sync modes, as recorded in sync_state and sync_runs.
const (
	ModeFull      = "full"      // a full paged load with change tracking requested
	ModeDelta     = "delta"     // changes since the stored delta link
	ModeWatermark = "watermark" // modifiedon paging, for tables without change tracking
	ModeReload    = "reload"    // a full load because the delta link was refused or the columns changed
)

// state is where one table's sync stands: the delta link (or modifiedon
// watermark) to go on from, and the columns it was made for. It is saved
// only after the rows it covers are in the warehouse, so a crash at any
// point leaves the previous state, and the rerun reads those rows again —
// the landing table's ReplacingMergeTree makes that harmless.
type state struct {
	Mode      string
	DeltaLink string
	Watermark time.Time
	Columns   []string
}

// loadStates reads the state of every table of env, by table name.
func loadStates(ctx context.Context, s warehouse.Store, env string) (map[string]state, error) {
	rows, err := s.Query(ctx, "SELECT table_name, mode, delta_link, watermark, columns FROM sync_state FINAL WHERE environment = ?", env)
	if err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	defer rows.Close()
	states := map[string]state{}
	for rows.Next() {
		var table string
		var st state
		if err := rows.Scan(&table, &st.Mode, &st.DeltaLink, &st.Watermark, &st.Columns); err != nil {
			return nil, fmt.Errorf("read sync state: %w", err)
		}
		states[table] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	return states, nil
}

func saveState(ctx context.Context, s warehouse.Store, env, table string, st state) error {
	b, err := s.PrepareInsert(ctx, "sync_state", []string{"environment", "table_name", "mode", "delta_link", "watermark", "columns", "updated_at", "seq"})
	if err != nil {
		return fmt.Errorf("save sync state of %s: %w", table, err)
	}
	now := time.Now().UTC()
	cols := st.Columns
	if cols == nil {
		cols = []string{}
	}
	mark := st.Watermark.UTC()
	if mark.Before(time.Unix(0, 0)) {
		mark = time.Unix(0, 0).UTC() // no watermark yet; DateTime starts in 1970
	}
	if err := b.Append(env, table, st.Mode, st.DeltaLink, mark, cols, now, uint64(now.UnixNano())); err != nil {
		b.Abort()
		return fmt.Errorf("save sync state of %s: %w", table, err)
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("save sync state of %s: %w", table, err)
	}
	return nil
}
