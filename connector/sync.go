// Package connector is Ampel's sync engine: it reads Dataverse tables
// through connector/dataverse and keeps their landing tables and
// current-state views in the warehouse equal to the source. Sync syncs
// the tables of one environment; a Runner syncs every environment one
// after the other and keeps a client per environment (runner.go). What a
// landing table and its rows look like is package warehouse/landing's.
//
// Per run, sync_state and the landing tables' columns are read once for
// all tables. Per table:
//
//  1. Metadata. The table's definition gives its columns
//     (connector/schema maps them to ClickHouse types). The definitions of
//     all the run's tables are read before the first table starts, in few
//     requests, and cached in the warehouse's metadata_cache by the global
//     metadata version, so that a new process starts warm (metadata.go). The landing table and
//     view are created or widened (landing.Ensure); a column added in
//     Dataverse is added and recorded in schema_changes, a changed type stops
//     this table with a message while the others go on.
//  2. Mode. With no stored state, with --full, or when the columns changed
//     (new columns need their values for every row), a full load: every page
//     of the table with change tracking requested; the last page's delta link
//     is stored. A large table's first load reads createdon ranges at once
//     instead, while the tracked read for its delta link begins beside them
//     and ends in the next sync (mode tracking, which reads by modifiedon
//     meanwhile and then applies the first delta, with the deletes made
//     during the load); ranges.go has the design
//     and why it keeps exactly-once. Afterwards only the delta link is used: changed rows and
//     deleted ids, in proportion to the changes. The delta request goes
//     out at the run's start, beside the metadata read, and its answer
//     waits for this step's checks (early.go). A refused delta link
//     (expired, invalid) turns into a full reload, noted in sync_runs. A
//     table without change tracking is read by modifiedon with an overlap
//     window instead; its deletes are found by key reconciliation: every
//     key is read ($select=<key>) on the schedule of Options.Reconcile, and
//     the records the source no longer has are tombstoned (reconcile.go);
//     sync_runs notes what was reconciled. The deletes an activity table's
//     delta reports (task, email, …) also tombstone their rows in
//     activitypointer, which has no change tracking in Dataverse.
//  3. Writing. Rows go to the landing table in large batches with
//     _version = the load generation in the high 20 bits and the row's
//     versionnumber in the low 44 (landing.Version). Every full load raises
//     the generation and saves it in sync_state before it writes a row, so
//     its rows replace every row stored before even when the source's
//     version numbers went back (an environment restored from a backup or
//     copied over another); a resumed load keeps its generation, deltas
//     and tombstones stay in it. A delete becomes a tombstone in the same
//     batch: the key with _deleted = 1 and a version above the newest one
//     stored and above every version read in the run. At its end a full
//     load tombstones the stored keys it did not see — those whose newest
//     row is of an older generation: deletes missed while a delta link was
//     expired, or during an interrupted load, are caught.
//     Versions going back are noticed cheaply where it is sure: a delta
//     link refused (Dataverse refuses links from before a restore — VERIFY;
//     the simulator does), a delta link whose token version is lower than
//     the one before, a table without change tracking whose newest
//     versionnumber went down. The table is reloaded and sync_runs.note
//     says why. Not noticed: a restore whose later changes pass the stored
//     token's version while the source still accepts the old link — a
//     reload (--full) repairs that too.
//  4. State. The new delta link (or watermark) is saved in sync_state only
//     after every row it covers is in the warehouse (tables that finish
//     together share one INSERT, and the tables read by delta link save
//     theirs in one INSERT when the last of them is done: state.go). A
//     crash at any point leaves the old state; the rerun reads the same
//     changes again, and the ReplacingMergeTree keeps one row per key and
//     version, so the views end up equal to the source (exactly-once
//     effect, at-least-once delivery).
package connector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/schema"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
)

// Table is one table to sync and the columns to leave out.
type Table struct {
	Name           string
	ExcludeColumns []string
}

// Defaults of Options.
const (
	// DefaultParallelTables: tables that load at once. A sync against a
	// remote Dataverse is mostly round trips (100–500 ms each), which
	// overlap. Tables that read only their changes (delta, tracking,
	// watermark) take no slot, so a delta of the 14 default tables is one
	// round of delta requests; nor does a load of one page by the row
	// counts. Not all 14 loads at once: every table in a full load holds
	// a batch in memory (its pages are within the client's memory budget,
	// dataverse.Config.MemoryBudget, since; before it, at 14 the sync's
	// own peak RSS was 1.8–2x that at 4, at 8 1.2–1.7x, at 6 1.1–1.3x:
	// BenchmarkSyncPeakRSS in cmd/ampel, the README has the figures).
	// Requests in flight stay capped and adapt in the client
	// (dataverse.Config.MaxConcurrency).
	DefaultParallelTables = 6
	// DefaultBatchRows rows go into one INSERT.
	DefaultBatchRows = 20000
	// DefaultCheckpointEvery: a crash costs at most this much of a long
	// load, for one small INSERT into sync_state each time.
	DefaultCheckpointEvery = 10 * time.Second
)

// Options are one sync of one environment.
type Options struct {
	// Store is the warehouse, migrated.
	Store warehouse.Store
	// Client reads the environment.
	Client *dataverse.Client
	// Environment names the environment; rows carry it in _environment.
	Environment string
	// Tables to sync.
	Tables []Table
	// Full forces a full load of every table.
	Full bool
	// ParallelTables is how many tables load at once (a full load, a
	// reload, a resumed load); tables that read only their changes do not
	// count. Default DefaultParallelTables.
	ParallelTables int
	// ParallelRanges caps the createdon ranges a large table's first load
	// reads at once (ranges.go); 0 or 1 reads it in one tracked read. The
	// binary's default (sync.parallel_ranges) is DefaultParallelRanges.
	// The ranges of all tables of a run share the cap; while another table
	// may still load in ranges, one holds at most half (rangeslots.go).
	ParallelRanges int
	// Overlap is how far back a modifiedon watermark reads again, for rows
	// committed late. Default 5m.
	Overlap time.Duration
	// BatchRows is the number of rows per INSERT. Default DefaultBatchRows.
	BatchRows int
	// BatchBytes bounds an INSERT in bytes as well (warehouse.Batch.Bytes):
	// a batch is sent at the first page boundary where it holds BatchRows
	// rows or BatchBytes bytes. Default: a share of the client's memory
	// budget (batchBytesShare in load.go).
	BatchBytes int
	// Reconcile says how often a table without change tracking has its
	// keys reconciled to find deletes (reconcile.go); the zero value is
	// the default policy.
	Reconcile ReconcilePolicy
	// CheckpointEvery is how often a full load saves where it stands, so
	// that a load stopped by a crash goes on from there. Default
	// DefaultCheckpointEvery. A load stopped by an error or cancellation
	// always saves it.
	CheckpointEvery time.Duration
	// RunID ties the sync_runs rows of one run together.
	RunID string
	// Progress hears about progress; nil reports nothing.
	Progress Progress
	// Logger gets the logs; nil discards them.
	Logger *slog.Logger
	// Check, when set, checks that the environment can be read (the
	// Runner's WhoAmI). Sync runs it beside its first requests, so that a
	// one-shot sync does not wait a round trip for it, and starts no table
	// when it fails: the error is a *CheckError.
	Check func(ctx context.Context) error
}

// CheckError is Options.Check's failure: no table was started.
type CheckError struct{ Err error }

func (e *CheckError) Error() string { return e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Sync syncs every table of opts and records each in sync_runs. It returns
// the results, and an error when a table failed; one table's failure does
// not stop the others. A canceled ctx stops after the current batch.
func Sync(ctx context.Context, opts Options) ([]TableResult, error) {
	if opts.ParallelTables <= 0 {
		opts.ParallelTables = DefaultParallelTables
	}
	if opts.Overlap <= 0 {
		opts.Overlap = 5 * time.Minute
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = defaultBatchBytes(opts.Client)
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.Progress == nil {
		opts.Progress = nopProgress{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var check chan error
	if opts.Check != nil {
		check = make(chan error, 1)
		go func() { check <- opts.Check(ctx) }()
	}
	results := make([]TableResult, len(opts.Tables))
	// the metadata read (its cache in the warehouse, then one request)
	// goes beside the warehouse reads of readSyncStart
	shared := newRunShared(&opts)
	mdCtx, mdCancel := context.WithCancel(ctx)
	defer mdCancel()
	mdRead := make(chan error, 1)
	go func() { mdRead <- shared.readMetadata(mdCtx) }()
	// one read of sync_state and of the landing tables' columns for all
	// tables: each table changes only its own rows and tables, so both stay
	// right for the whole run
	stored, cat, err := readSyncStart(ctx, opts)
	if err != nil {
		mdCancel()
		<-mdRead
		now := time.Now().UTC()
		mode := ModeUnknown
		if opts.Full {
			mode = ModeFull
		}
		for i, t := range opts.Tables {
			results[i] = TableResult{RunID: opts.RunID, Environment: opts.Environment, Table: t.Name, Mode: mode,
				Started: now, Finished: now, Status: StatusFailed, Err: err}
		}
		return results, err
	}
	states := newStateWriter(opts.Store, opts.Environment)
	// the delta requests go out beside the metadata read (early.go), and
	// their tables save their next links together (stateWriter)
	for name := range readByLink(&opts, stored) {
		states.join(name)
	}
	early := startEarlyDeltas(ctx, &opts, stored)
	defer early.discard()
	// a run with loads asks for the row counts (which size the loads'
	// ranges and order them) beside the metadata, not a round trip after
	loads := make([]bool, len(opts.Tables))
	anyLoad := false
	for i, t := range opts.Tables {
		st, ok := stored[t.Name]
		loads[i] = opts.Full || !ok || (st.Mode != ModeDelta && st.Mode != ModeTracking && st.Mode != ModeWatermark)
		anyLoad = anyLoad || loads[i]
	}
	if anyLoad {
		go shared.readCounts(mdCtx) // mdCtx ends with the run
	}
	mdErr := <-mdRead
	if check != nil {
		if err := <-check; err != nil {
			return nil, &CheckError{Err: err}
		}
	}
	if mdErr != nil {
		opts.Logger.Warn("metadata of all tables in one read failed; reading each table's", "environment", opts.Environment, "error", mdErr)
	}
	sem := make(chan struct{}, opts.ParallelTables)
	var wg sync.WaitGroup
	// the loads that may read in ranges (by the counts, rangesFor): while
	// more than one is not done, one table holds at most half of the
	// range slots (rangeslots.go)
	ranged := make([]bool, len(opts.Tables))
	run := func(i int, slot *tableSlot) {
		defer wg.Done()
		defer slot.release()
		if ranged[i] {
			defer shared.ranges.tableDone()
		}
		t := opts.Tables[i]
		st, ok := stored[t.Name]
		results[i] = syncTable(ctx, &opts, t, st, ok, cat, states, shared, slot, early.take(t.Name))
		opts.Progress.TableDone(results[i])
	}
	// a table that reads only its changes holds little memory and mostly
	// waits for one round trip: it takes no slot, so that a delta of every
	// table costs one round of requests, not one per ParallelTables
	// tables; it takes one if it turns into a load
	for i := range opts.Tables {
		if !loads[i] {
			wg.Add(1)
			go run(i, &tableSlot{sem: sem})
		}
	}
	// loads take the slots largest first: the largest table's chain of
	// pages is the run's longest, and started last it would end the run
	// alone
	var counts map[string]int64
	if anyLoad {
		counts = shared.readCounts(ctx)
		pending := 0
		for i, t := range opts.Tables {
			if n, ok := counts[t.Name]; loads[i] && ok && rangesFor(n, opts.Client.PageSize(), opts.ParallelRanges) > 1 {
				ranged[i] = true
				pending++
			}
		}
		shared.ranges.setPending(pending)
	}
	// so does a load of one page by the counts (a table not larger than a
	// page holds one, as a delta does): it starts at once, not after the
	// large tables' loads
	order := loadOrder(opts.Tables, loads, counts)
	for len(order) > 0 {
		last := order[len(order)-1]
		if n, ok := counts[opts.Tables[last].Name]; !ok || n > int64(opts.Client.PageSize()) {
			break
		}
		order = order[:len(order)-1]
		wg.Add(1)
		go run(last, &tableSlot{sem: sem, small: true})
	}
	for _, i := range order {
		slot := &tableSlot{sem: sem}
		if err := slot.take(ctx); err != nil {
			t := opts.Tables[i]
			st, ok := stored[t.Name]
			results[i] = TableResult{RunID: opts.RunID, Environment: opts.Environment, Table: t.Name, Mode: plannedMode(opts.Full, st, ok),
				Started: time.Now(), Finished: time.Now(), Status: StatusCanceled, Err: err}
			continue
		}
		wg.Add(1)
		go run(i, slot)
	}
	wg.Wait()
	recErr := recordRuns(ctx, opts.Store, results)
	var errs []error
	for _, g := range GroupErrors(results) {
		errs = append(errs, g) // a cause all tables share is said once
	}
	if recErr != nil {
		errs = append(errs, recErr)
	}
	return results, errors.Join(errs...)
}

// loadOrder returns the indexes of the tables that load (loads[i]), the
// largest by counts first; tables without a count keep their order,
// after the counted ones.
func loadOrder(tables []Table, loads []bool, counts map[string]int64) []int {
	var order []int
	for i := range tables {
		if loads[i] {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		na, oka := counts[tables[a].Name]
		nb, okb := counts[tables[b].Name]
		switch {
		case oka && okb:
			return cmp.Compare(nb, na)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	return order
}

// tableSync is the work on one table in one run.
type tableSync struct {
	opts    *Options
	shared  *runShared
	log     *slog.Logger
	entity  *dataverse.Entity
	mapping *schema.Mapping
	landing landing.Table
	rows    *landing.Rows // builds the landing rows of this table and environment
	res     *TableResult
	counter *dataverse.Counter
	states  *stateWriter
	// stored is the table's state at the start of the run (zero if none)
	stored state
	// gen is the generation the rows of this run are written in
	gen uint32
	// sourceMax is the newest versionnumber read in this run
	sourceMax uint64
	// link is the delta link this run saved, if any
	link string
	// cat holds the warehouse's tables as the run found them at its start
	cat warehouse.Catalog
	// single: this load reads the table in one read, not in ranges
	single bool
	// activityDeletes are the keys a delta of an activity table saw
	// deleted, for activitypointer (see tombstoneActivities)
	activityDeletes []uuid.UUID
	// slot is the table's share of Options.ParallelTables: a load takes it
	slot *tableSlot
	// early is the table's delta read sent beside the metadata read, until
	// applyDelta uses it or another read discards it (early.go)
	early *earlyDelta
	// head is the first round trip of a load from the start, sent before
	// the landing tables are made (early.go)
	head *headStart
}

// tableSlot is one of the Options.ParallelTables slots of a run, which
// every load of a table holds (each holds a batch and pages in memory); a
// table that reads only its changes takes one only when it turns into a
// load (a refused delta link, versions gone back).
type tableSlot struct {
	sem  chan struct{}
	held bool
	// small: the table's row count fits in one page, and its load takes
	// no slot (the count is a snapshot Dataverse updates now and then: a
	// table grown since loads without one, its pages one after another)
	small bool
}

// take waits for a slot unless the table holds one or needs none.
func (s *tableSlot) take(ctx context.Context) error {
	if s.held || s.small {
		return nil
	}
	select {
	case s.sem <- struct{}{}:
		s.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives the slot back, if the table holds one.
func (s *tableSlot) release() {
	if s.held {
		s.held = false
		<-s.sem
	}
}

// readSyncStart reads what every table of a run needs from the warehouse
// first: the sync states and the columns of the landing tables and views,
// the two beside each other.
func readSyncStart(ctx context.Context, opts Options) (map[string]state, warehouse.Catalog, error) {
	var names []string
	for _, t := range opts.Tables {
		names = append(names, landing.TableName(t.Name), t.Name)
	}
	var cat warehouse.Catalog
	var catErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		if cat, catErr = warehouse.ReadCatalog(ctx, opts.Store, names...); catErr != nil {
			catErr = fmt.Errorf("read the warehouse's tables: %w", catErr)
		}
	}()
	states, err := loadStates(ctx, opts.Store, opts.Environment)
	<-read
	if err = errors.Join(err, catErr); err != nil {
		return nil, nil, err
	}
	return states, cat, nil
}

func syncTable(ctx context.Context, opts *Options, t Table, st state, haveState bool, cat warehouse.Catalog, states *stateWriter, shared *runShared, slot *tableSlot, early *earlyDelta) TableResult {
	res := TableResult{RunID: opts.RunID, Environment: opts.Environment, Table: t.Name, Started: time.Now().UTC()}
	ts := &tableSync{opts: opts, shared: shared, res: &res, counter: &dataverse.Counter{}, states: states, stored: st, cat: cat, slot: slot,
		early: early, log: opts.Logger.With("environment", opts.Environment, "table", t.Name)}
	if early != nil {
		ts.counter = early.counter // the early request counts as the table's
	}
	ctx = dataverse.WithCounter(ctx, ts.counter)
	err := ts.run(ctx, t, st, haveState, cat)
	ts.readOtherwise()
	cnt := ts.counter.Snapshot()
	res.Requests, res.Throttled, res.Retries, res.Bytes = uint32(cnt.Requests), uint32(cnt.Throttled), uint32(cnt.Retries), uint64(cnt.Bytes)
	res.Finished = time.Now().UTC()
	if res.Mode == "" { // failed before its read began
		res.Mode = plannedMode(opts.Full, st, haveState)
	}
	switch {
	case err == nil:
		res.Status = StatusOK
	case ctx.Err() != nil:
		res.Status, res.Err = StatusCanceled, err
	default:
		res.Status, res.Err = StatusFailed, err
	}
	return res
}

func (ts *tableSync) run(ctx context.Context, t Table, st state, haveState bool, cat warehouse.Catalog) error {
	opts := ts.opts
	ent, err := ts.shared.entity(ctx, t.Name)
	if err != nil {
		return err
	}
	ts.entity = ent
	m, err := schema.New(ent, opts.Store.Dialect(), t.ExcludeColumns)
	if err != nil {
		return err
	}
	ts.mapping = m
	sel := m.Select()
	if ent.ChangeTrackingEnabled && (opts.Full || !haveState) {
		// a load from the start: its first round trip goes out while the
		// landing tables are made and its generation is saved
		ts.head = ts.startHead(ctx, sel)
		defer ts.head.close()
	}
	if err := ts.ensureLanding(ctx, cat); err != nil {
		return err
	}
	sameCols := haveState && slices.Equal(st.Columns, sel)

	var back *errVersionsBack
	if !ent.ChangeTrackingEnabled {
		ts.res.Note = untrackedNote + ": deletes are found by reading its keys"
		if opts.Full || !haveState || st.Mode != ModeWatermark || !sameCols {
			return ts.watermarkLoad(ctx, sel, ModeFull)
		}
		err := ts.watermark(ctx, sel, &st, "")
		if errors.As(err, &back) {
			ts.log.Warn("the source's versions went backwards; reloading the table", "error", err)
			return ts.startOver(ts.res.Note+"; "+back.Error()+": full reload", func() error { return ts.watermarkLoad(ctx, sel, ModeReload) })
		}
		if err != nil {
			return err
		}
		return ts.maybeReconcileKeys(ctx)
	}
	loading := haveState && (st.Mode == ModeFull || st.Mode == ModeReload)
	switch {
	case opts.Full:
		return ts.full(ctx, ModeFull, sel, nil)
	case !haveState:
		return ts.full(ctx, ModeFull, sel, nil)
	case st.Mode == ModeTracking && sameCols && sameHost(st.NextLink, opts.Client.URL()):
		return ts.tracking(ctx, st, sel)
	case st.Mode == ModeTracking:
		ts.res.Note = "columns or URL changed while the tracked read after a ranged load went on: full reload"
		return ts.full(ctx, ModeReload, sel, nil)
	case loading && st.NextLink == "":
		ts.res.Note = "the last load was interrupted before its first checkpoint: full load again"
		return ts.full(ctx, st.Mode, sel, nil)
	case loading && st.Generation == 0:
		ts.res.Note = "the last load was interrupted, and an earlier version of Ampel began it: full load again"
		ts.dropScratch(ctx, st.SeenTable)
		return ts.full(ctx, st.Mode, sel, nil)
	case loading && sameCols && sameHost(st.NextLink, opts.Client.URL()):
		return ts.resume(ctx, st, sel)
	case loading:
		ts.res.Note = "the last load was interrupted and cannot go on (columns or URL changed): full load again"
		return ts.full(ctx, st.Mode, sel, nil)
	case st.Mode != ModeDelta || st.DeltaLink == "":
		ts.res.Note = "change tracking turned on: full load to start delta syncs"
		return ts.full(ctx, ModeReload, sel, nil)
	case !sameCols:
		ts.res.Note = "columns changed: full reload to fill them"
		return ts.full(ctx, ModeReload, sel, nil)
	case !sameHost(st.DeltaLink, opts.Client.URL()):
		ts.res.Note = "the environment URL changed since the last sync: full reload"
		return ts.full(ctx, ModeReload, sel, nil)
	}
	reload := func() error { return ts.full(ctx, ModeReload, sel, nil) }
	err = ts.delta(ctx, st, sel)
	switch {
	case errors.Is(err, dataverse.ErrDeltaTokenExpired):
		ts.log.Warn("delta link refused; reloading the table", "error", err)
		err = ts.startOver("delta link refused (expired or invalid): full reload", reload)
		was, ok1 := dataverse.DeltaTokenVersion(st.DeltaLink)
		now, ok2 := dataverse.DeltaTokenVersion(ts.link)
		if err == nil && ok1 && ok2 && now < was {
			// likely why the link was refused
			ts.res.Note += "; " + (&errVersionsBack{was: was, now: now}).Error()
		}
		return err
	case errors.As(err, &back):
		ts.log.Warn("the source's versions went backwards; reloading the table", "error", err)
		return ts.startOver(back.Error()+": full reload", reload)
	}
	return err
}

// watermarkLoad loads a table without change tracking in full, by
// modifiedon, in mode. The load tombstones what it did not see, so it
// counts as a key reconciliation.
func (ts *tableSync) watermarkLoad(ctx context.Context, sel []string, mode string) error {
	if err := ts.slot.take(ctx); err != nil {
		return err
	}
	began := time.Now().UTC()
	if err := ts.watermark(ctx, sel, nil, mode); err != nil {
		return err
	}
	ts.res.Note += "; this full load read them all"
	return recordReconciled(context.WithoutCancel(ctx), ts.opts.Store, ts.opts.Environment, ts.entity.LogicalName, began, ts.res.Upserted, ts.res.Deleted)
}

// resume goes on with an interrupted full load from its checkpoint. When
// the source refuses the saved link on the first page, the load starts
// over.
func (ts *tableSync) resume(ctx context.Context, st state, sel []string) error {
	ts.gen = st.Generation
	ranges, err := ts.savedRanges(ctx)
	if err != nil {
		return err
	}
	if len(ranges) > 0 {
		return ts.resumeRanged(ctx, st, sel, ranges)
	}
	ts.res.Note = "went on with the load interrupted before"
	err = ts.full(ctx, st.Mode, sel, &st)
	if !errors.Is(err, dataverse.ErrLinkRefused) {
		return err
	}
	ts.log.Warn("cannot go on with the interrupted load; loading in full again", "error", err)
	return ts.startOver("the interrupted load could not go on ("+err.Error()+"): full load again", func() error {
		return ts.full(ctx, st.Mode, sel, nil)
	})
}

// startOver drops what a refused or abandoned read counted and loads the
// table in full with load.
func (ts *tableSync) startOver(note string, load func() error) error {
	ts.res.Note = note
	ts.res.Upserted, ts.res.Deleted, ts.res.Pages = 0, 0, 0
	ts.sourceMax = 0
	return load()
}

// dropScratch drops the scratch table of seen keys an earlier Ampel's
// unfinished load left, if any.
func (ts *tableSync) dropScratch(ctx context.Context, name string) {
	if name == "" {
		return
	}
	if err := landing.DropScratch(ctx, ts.opts.Store, name); err != nil {
		ts.log.Warn("could not drop an old scratch table", "table", name, "error", err)
	}
}

// ensureLanding creates or widens the landing table and records added
// columns in schema_changes.
func (ts *tableSync) ensureLanding(ctx context.Context, cat warehouse.Catalog) error {
	s := ts.opts.Store
	ts.landing = ts.mapping.Landing()
	if _, read := cat[ts.landing.Table()]; !read && ts.landing.Name != ts.res.Table {
		cat = nil // the catalog was read under the configured name; read again
	}
	change, err := landing.Ensure(ctx, s, ts.landing, cat)
	if err != nil {
		var tc *landing.TypeChangeError
		if errors.As(err, &tc) {
			ts.recordSchemaChange(ctx, []schemaChange{{column: tc.Column, change: "type_changed", oldType: tc.Have, newType: tc.Want}})
		}
		return err
	}
	if len(change.Added) > 0 {
		changes := make([]schemaChange, len(change.Added))
		for i, c := range change.Added {
			changes[i] = schemaChange{column: c.Name, change: "added", newType: c.Type}
			ts.log.Info("column added", "column", c.Name, "type", c.Type)
		}
		ts.recordSchemaChange(ctx, changes)
	}
	// the rows leave out columns the warehouse's table may keep from a
	// source column that is gone: they get their defaults
	ts.rows, err = landing.NewRows(ts.landing, ts.opts.Environment)
	return err
}

type schemaChange struct{ column, change, oldType, newType string }

func (ts *tableSync) recordSchemaChange(ctx context.Context, changes []schemaChange) {
	s := ts.opts.Store
	b, err := s.PrepareInsert(ctx, "schema_changes", []string{"changed_at", "environment", "table_name", "column_name", "change", "old_type", "new_type"})
	if err == nil {
		now := time.Now().UTC()
		for _, c := range changes {
			if err = b.Append(now, ts.opts.Environment, ts.entity.LogicalName, c.column, c.change, c.oldType, c.newType); err != nil {
				break
			}
		}
		if err == nil {
			err = b.Send(ctx)
		} else {
			b.Abort()
		}
	}
	if err != nil {
		ts.log.Error("record schema change", "error", err)
	}
}

// sameHost reports whether a stored link points to the environment at
// origin (scheme://host[:port]).
func sameHost(link, origin string) bool {
	l, err1 := url.Parse(link)
	o, err2 := url.Parse(origin)
	return err1 == nil && err2 == nil && strings.EqualFold(l.Host, o.Host)
}

type nopProgress struct{}

func (nopProgress) TableStarted(string, string, string, int64) {}
func (nopProgress) Rows(string, string, int)                   {}
func (nopProgress) TableDone(TableResult)                      {}
