package connector

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// Sync modes, as recorded in sync_state and sync_runs.
const (
	ModeFull      = "full"      // a full paged load with change tracking requested
	ModeDelta     = "delta"     // changes since the stored delta link
	ModeWatermark = "watermark" // modifiedon paging, for tables without change tracking
	ModeReload    = "reload"    // a full load because the delta link was refused or the columns changed
	// ModeTracking: the table was loaded in ranges and its tracked read for
	// the delta link goes on; meanwhile it is read by modifiedon (ranges.go)
	ModeTracking = "tracking"
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
	// NextLink is set while a full load (Mode full or reload) is
	// unfinished: where it goes on ("" before its first checkpoint). See
	// tableSync.full. In ModeTracking, where the tracked read goes on.
	NextLink string
	// SeenTable is the scratch table of seen keys of a load an earlier
	// Ampel left unfinished; loads keep none now (generations tell).
	SeenTable string
	// Generation is the table's load generation: a full load raises it
	// and saves it before it writes a row; the landing rows carry it in
	// the high bits of _version (see landing.Version). 0 for rows and
	// states written before generations.
	Generation uint32
	// SourceVersion is, for a table without change tracking, the newest
	// versionnumber its last sync read; 0 if unknown.
	SourceVersion uint64
}

// loadStates reads the state of every table of env, by table name.
func loadStates(ctx context.Context, s warehouse.Store, env string) (map[string]state, error) {
	rows, err := s.Query(ctx, "SELECT table_name, mode, delta_link, watermark, columns, next_link, seen_table, generation, source_version FROM sync_state FINAL WHERE environment = ?", env)
	if err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	defer rows.Close()
	states := map[string]state{}
	for rows.Next() {
		var table string
		var st state
		if err := rows.Scan(&table, &st.Mode, &st.DeltaLink, &st.Watermark, &st.Columns, &st.NextLink, &st.SeenTable, &st.Generation, &st.SourceVersion); err != nil {
			return nil, fmt.Errorf("read sync state: %w", err)
		}
		states[table] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	return states, nil
}

// stateWriter saves the states of one run's tables. A table's save
// returns once its row is in sync_state. Tables that finish while a save
// is being written go together into the next INSERT (group commit), so a
// delta over many small tables costs fewer INSERTs than tables.
type stateWriter struct {
	store warehouse.Store
	env   string

	mu    sync.Mutex
	queue []*stateSave
	busy  bool // a caller is writing; it takes the queue next
}

type stateSave struct {
	table string
	st    state
	done  chan error
}

func newStateWriter(s warehouse.Store, env string) *stateWriter {
	return &stateWriter{store: s, env: env}
}

// save stores st as table's state. The caller that finds no write going
// writes the queue, again and again until it is empty; the others wait
// for their turn's result.
func (w *stateWriter) save(ctx context.Context, table string, st state) error {
	req := &stateSave{table: table, st: st, done: make(chan error, 1)}
	w.mu.Lock()
	w.queue = append(w.queue, req)
	if w.busy {
		w.mu.Unlock()
		return <-req.done
	}
	w.busy = true
	for len(w.queue) > 0 {
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		err := writeStates(ctx, w.store, w.env, batch)
		for _, r := range batch {
			r.done <- err
		}
		w.mu.Lock()
	}
	w.busy = false
	w.mu.Unlock()
	return <-req.done
}

func writeStates(ctx context.Context, s warehouse.Store, env string, saves []*stateSave) error {
	names := make([]string, len(saves))
	for i, sv := range saves {
		names[i] = sv.table
	}
	fail := func(err error) error {
		return fmt.Errorf("save sync state of %s: %w", strings.Join(names, ", "), err)
	}
	b, err := s.PrepareInsert(ctx, "sync_state", []string{"environment", "table_name", "mode", "delta_link", "watermark", "columns", "next_link", "seen_table", "generation", "source_version", "updated_at", "seq"})
	if err != nil {
		return fail(err)
	}
	now := time.Now().UTC()
	for _, sv := range saves {
		cols := sv.st.Columns
		if cols == nil {
			cols = []string{}
		}
		mark := sv.st.Watermark.UTC()
		if mark.Before(time.Unix(0, 0)) {
			mark = time.Unix(0, 0).UTC() // no watermark yet; DateTime starts in 1970
		}
		if err := b.Append(env, sv.table, sv.st.Mode, sv.st.DeltaLink, mark, cols, sv.st.NextLink, sv.st.SeenTable, sv.st.Generation, sv.st.SourceVersion, now, uint64(now.UnixNano())); err != nil {
			b.Abort()
			return fail(err)
		}
	}
	if err := b.Send(ctx); err != nil {
		return fail(err)
	}
	return nil
}
