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
//
// The tables that read their changes by delta link go further: they are
// the run's delta group (join), and each one's next link waits for the
// others' (saveTogether), so that they are saved in one INSERT when the
// last of them is done. In a one-shot sync of deltas, which finish within
// a few hundred milliseconds of each other, that INSERT replaces a chain
// of group commits, each waiting for the one before on an engine busy
// with the deltas' own writes (BenchmarkRemoteOneShot). A table that
// leaves the group (a reload instead, a failure) no longer holds the
// others up (leave). Waiting is safe: the links saved later are read
// again after a crash, and the rows they cover are in the warehouse
// already, where a row read twice is harmless.
type stateWriter struct {
	store warehouse.Store
	env   string

	mu    sync.Mutex
	queue []*stateSave
	busy  bool // a caller is writing; it takes the queue next
	// group are the tables of the delta group that have neither saved
	// nor left; held are the group's saves waiting for them
	group map[string]bool
	held  []*stateSave
}

type stateSave struct {
	table string
	st    state
	done  chan error
}

func newStateWriter(s warehouse.Store, env string) *stateWriter {
	return &stateWriter{store: s, env: env, group: map[string]bool{}}
}

// join makes tables the run's delta group.
func (w *stateWriter) join(tables ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range tables {
		w.group[t] = true
	}
}

// save stores st as table's state.
func (w *stateWriter) save(ctx context.Context, table string, st state) error {
	req := &stateSave{table: table, st: st, done: make(chan error, 1)}
	w.submit(ctx, req)
	return <-req.done
}

// saveTogether stores st as table's state together with the states of
// the rest of the delta group: it returns once the last of them saved or
// left, and all were written. A table outside the group saves at once.
func (w *stateWriter) saveTogether(ctx context.Context, table string, st state) error {
	req := &stateSave{table: table, st: st, done: make(chan error, 1)}
	w.mu.Lock()
	if !w.group[table] {
		w.mu.Unlock()
		w.submit(ctx, req)
		return <-req.done
	}
	delete(w.group, table)
	w.held = append(w.held, req)
	held := w.takeHeld()
	w.mu.Unlock()
	// the rows are in: their links are saved even when ctx ends now
	w.submit(context.WithoutCancel(ctx), held...)
	return <-req.done
}

// leave takes table out of the delta group, if it is in it: it saves no
// delta state in this run, or has saved it. When the table was the last
// one the held saves waited for, they are written.
func (w *stateWriter) leave(ctx context.Context, table string) {
	w.mu.Lock()
	if !w.group[table] {
		w.mu.Unlock()
		return
	}
	delete(w.group, table)
	held := w.takeHeld()
	w.mu.Unlock()
	w.submit(context.WithoutCancel(ctx), held...)
}

// takeHeld returns the held saves once nobody of the group is left to
// wait for; w.mu is held.
func (w *stateWriter) takeHeld() []*stateSave {
	if len(w.group) > 0 {
		return nil
	}
	held := w.held
	w.held = nil
	return held
}

// submit queues saves. The caller that finds no write going writes the
// queue, again and again until it is empty; while a write goes on, its
// writer takes them next.
func (w *stateWriter) submit(ctx context.Context, saves ...*stateSave) {
	if len(saves) == 0 {
		return
	}
	w.mu.Lock()
	w.queue = append(w.queue, saves...)
	if w.busy {
		w.mu.Unlock()
		return
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
