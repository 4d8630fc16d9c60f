package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
)

// A ranged load reads a large table's first load in several createdon
// ranges at once. Dataverse pages one read one page (5000 rows) per round
// trip, and allows $filter only without change tracking, while the delta
// link comes only at the end of one complete tracked read. So a ranged
// load reads two things at the same time:
//
//   - the tracked read ("the walk"): Prefer: odata.track-changes with the
//     table's columns, whose pages are not written; it exists for the delta
//     link its last page carries, whose token is from the walk's start;
//   - the rows, in N ranges of createdon without tracking ($filter
//     createdon ge a and createdon lt b; the first range is open below, the
//     last open above, and one more holds rows without createdon, so the
//     ranges cover every row whatever the bounds read first said), each
//     read by its own reader into one batch writer the ranges share
//     (rangeWriter: INSERTs as large as one read's, and as many rows held).
//     The ranges of all tables of a run read at once are at most
//     sync.parallel_ranges, so that memory does not grow with the tables
//     loading in ranges either.
//
// The walk's first page is answered before any range reads a row: every
// change after a range read a row is after the walk's start, so the delta
// link covers it. Then the walk stops, so that its pages do not compete
// with the ranges' at the source (its rows are not decoded: LinksOnly).
// The table's load is done when the ranges are; the walk does not gate
// it. It goes on from its saved link in the next sync (mode "tracking"),
// which reads the table's changes by the
// modifiedon watermark (from before the walk began, minus the overlap)
// while the walk reads on to its end, and then applies the first delta of
// the link the walk ended with — in the same sync. That link is from the
// walk's start, before any range read a row, so its first delta reports
// every delete made during and since the load: no key reconciliation is
// needed, and the tracking phase is one sync, whose cost is the walk's
// remaining pages (one round trip each, paid once). From then on the table
// syncs by delta; the changes the delta replays that were already applied
// are harmless (ReplacingMergeTree by _version). A walk that fails part way
// saves where it got to and goes on in the next sync. A walk whose saved
// link is refused starts over; since its new delta link starts later, the
// keys are reconciled in the same sync (reconcile.go), which finds what
// was deleted before. Tried and left out (BenchmarkRemoteOneShot, 100k
// leads, 2026-11-30): letting the walk go on after its table was done
// while the loading sync's other tables still load made the cold sync
// 1.38x slower (its pages decoded beside their loads); reading one walk
// page per tracking sync, without key reconciliation, kept the deletes
// made during the load in the views for 24 syncs at 100k leads.
//
// Exactly once: the ranged load writes in a new generation like every
// full load (load.go), saved before its first row. A row present at the
// start is in exactly one range (createdon does not change); one created
// or changed during the load is read by its range or not, and is in the
// watermark's next increment and in the walk's delta; one deleted during
// the load is in the walk's delta. Each
// range saves checkpoints like a single read (the link of its next page,
// once every row before it is stored — in the shared writer's batches, so
// a range's checkpoint waits for the batch that holds its rows; sync_ranges,
// with the range's filter and whether it is done, saved for every range
// once the writer has stored all rows), and the state saves the walk's link and the
// load's start. A kill at any point followed by a rerun: before the ranges
// were saved, the state says "full load under way, no checkpoint", and the
// rerun loads again in a newer generation whose rows outrank the killed
// load's (what it does not see is tombstoned by generation); after, the
// rerun goes on with the ranges not done, each from its checkpoint, in the
// same generation, with the same walk link and start; a row read again
// carries its version, and the newest one wins. A kill in the tracking
// phase leaves the last
// saved walk link and watermark, read again by the rerun.
//
// Why the walk reads every column rather than the keys only: a delta link
// keeps its $select (a key-only link would return changed keys whose rows
// need more requests on every delta), and the link is opaque.

// DefaultParallelRanges is the default cap of sync.parallel_ranges, the
// ranges of a ranged load (Options.ParallelRanges).
const DefaultParallelRanges = 8

// minRangePages: a range is worth its own reader from this many pages.
const minRangePages = 1

// rangeCount is the number of ranges a first load of total rows reads at
// once; 1 keeps the one tracked read.
func (ts *tableSync) rangeCount(total int64, sel []string) int {
	if ts.single || ts.opts.ParallelRanges <= 1 || total <= 0 || !slices.Contains(sel, "createdon") || !slices.Contains(sel, "modifiedon") {
		return 1
	}
	return rangesFor(total, ts.opts.Client.PageSize(), ts.opts.ParallelRanges)
}

// rangesFor is the number of ranges total rows are worth, at pageSize rows
// a page and at most parallel at once, by the row count alone: rangeCount
// for a load, and Sync for the tables that may load in ranges.
func rangesFor(total int64, pageSize, parallel int) int {
	n := total / int64(pageSize*minRangePages)
	return int(max(1, min(n, int64(parallel))))
}

// ranged loads a change-tracked table in n createdon ranges at once while
// the walk begins; see above.
func (ts *tableSync) ranged(ctx context.Context, mode string, sel []string, total int64, n int) error {
	ts.res.Mode = mode
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, mode, total)
	if _, err := ts.newGeneration(ctx, mode, sel); err != nil {
		return err
	}
	// the walk's first page and the createdon bounds at once (sent
	// before the landing tables were made, on a load from the start); the
	// walk then waits for the following syncs, so that its pages do not
	// compete with the ranges' at the source
	began, w, bc := ts.head.takeWalk()
	if w == nil {
		began, w = ts.startWalkNow(ctx, sel)
		bc = ts.startBounds(ctx)
	}
	defer func() { w.cancel() }()
	var b bounds
	select {
	case b = <-bc:
	case <-ctx.Done():
		return ctx.Err()
	}
	lo, hi, err := b.lo, b.hi, b.err
	if err := errors.Join(err, w.first(ctx)); err != nil {
		return err
	}
	link, walkNext, werr := w.stop()
	if werr != nil && walkNext == "" {
		return werr
	}
	if link != "" || walkNext == "" {
		// one page after all (the count is a snapshot Dataverse updates
		// now and then): the one read, in a newer generation
		ts.single = true
		return ts.full(ctx, mode, sel, nil)
	}
	filters := rangeFilters(lo, hi, n)
	ranges := make([]loadRange, len(filters))
	for i, f := range filters {
		ranges[i] = loadRange{no: uint16(i), filter: f}
	}
	// the ranges first, then the state that says where they are: a rerun
	// that finds the state finds the ranges
	if err := ts.saveRanges(ctx, ranges...); err != nil {
		return err
	}
	if err := ts.states.save(ctx, ts.entity.LogicalName, state{Mode: mode, Columns: sel, Generation: ts.gen, Watermark: began, NextLink: walkNext}); err != nil {
		return err
	}
	ts.res.Note = fmt.Sprintf("loaded in %d createdon ranges at once", len(filters)-1)
	return ts.readRanges(ctx, ranges, sel, began, walkNext)
}

// resumeRanged goes on with a ranged load a crash or a stop interrupted:
// in its generation, the walk from its saved link (while the source takes
// it: the walk's start is what makes the load exactly-once), each range
// not done from its checkpoint. A refused walk link loads the table again.
func (ts *tableSync) resumeRanged(ctx context.Context, st state, sel []string, ranges []loadRange) error {
	ts.res.Mode = st.Mode
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, st.Mode, ts.estimate(ctx))
	left := 0
	for _, r := range ranges {
		if !r.done {
			left++
		}
	}
	ts.res.Note = fmt.Sprintf("went on with the load interrupted before, in ranges (%d of %d ranges left)", left, len(ranges))
	return ts.readRanges(ctx, ranges, sel, st.Watermark, st.NextLink)
}

// readRanges reads the ranges not done at once, each from its checkpoint;
// then tombstones what the load did not see and saves the state: the
// table is current from began on, and the walk goes on at walkNext.
func (ts *tableSync) readRanges(ctx context.Context, ranges []loadRange, sel []string, began time.Time, walkNext string) error {
	subs := make([]*TableResult, len(ranges))
	errs := make([]error, len(ranges))
	maxes := make([]uint64, len(ranges))
	nexts := make([]string, len(ranges)) // the link after each range's last page handled
	rw := ts.newRangeWriter()
	defer rw.abort()
	held := 0 // the run's range slots this table's ranges hold (rangeSlots)
	var wg sync.WaitGroup
	for i, rg := range ranges {
		if rg.done {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// ranges of every table in the run share ParallelRanges slots:
			// each holds its pages, and several tables loading in ranges
			// at once must not multiply the memory; while another table
			// may still load in ranges, one holds at most half of them
			if err := ts.shared.ranges.take(ctx, &held); err != nil {
				errs[i] = err
				return
			}
			defer ts.shared.ranges.give(&held)
			sub := *ts
			sub.res = &TableResult{}
			defer func() { subs[i], maxes[i] = sub.res, sub.sourceMax }()
			checkpoint := func(ctx context.Context, next string) error {
				rg.next = next
				return ts.saveRanges(ctx, rg)
			}
			q := dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: sel, Filter: rg.filter, NextLink: rg.next}
			r := ts.opts.Client.Read(ctx, q)
			next, err := sub.copyRange(ctx, r, rw, checkpoint)
			r.Close()
			if errors.Is(err, dataverse.ErrLinkRefused) {
				// the range's saved link: read the range again from its start
				q.NextLink = ""
				r = ts.opts.Client.Read(ctx, q)
				next, err = sub.copyRange(ctx, r, rw, checkpoint)
				r.Close()
			}
			nexts[i], errs[i] = next, err
		}()
	}
	wg.Wait()
	// the rows of every range into the warehouse (also when ctx is
	// canceled: what was read lands), then each range's state: done, or
	// from where it goes on (every row before its next link is stored now)
	wctx := context.WithoutCancel(ctx)
	ferr := rw.finish(wctx)
	ts.res.Upserted += rw.ts.res.Upserted
	for i := range subs {
		if subs[i] != nil {
			ts.res.Pages += subs[i].Pages
			ts.sourceMax = max(ts.sourceMax, maxes[i])
		}
	}
	if ferr != nil {
		return errors.Join(append(errs, ferr)...)
	}
	var saved []loadRange
	for i, rg := range ranges {
		switch {
		case rg.done:
			continue
		case errs[i] == nil:
			rg.done, rg.next = true, ""
		case nexts[i] != "":
			rg.next = nexts[i]
		default:
			continue
		}
		saved = append(saved, rg)
	}
	if len(saved) > 0 {
		if err := ts.saveRanges(wctx, saved...); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// rows of older generations the load did not see are gone from the
	// source (none on a first load: the count says so cheaply)
	if err := ts.reconcile(ctx); err != nil {
		return err
	}
	st := state{Mode: ModeTracking, Watermark: began, NextLink: walkNext, Columns: sel, Generation: ts.gen}
	if err := ts.states.save(ctx, ts.entity.LogicalName, st); err != nil {
		return err
	}
	ts.res.Note += "; the tracked read for the delta link goes on in the next syncs"
	return nil
}

// rangeWriter is the one batch writer the ranges of a ranged load share:
// their rows go into INSERTs of Options.BatchRows or Options.BatchBytes,
// as one read's do, not into one writer per range with a share of that
// each. Measured with BenchmarkRangedLoad (200k leads, 2026-12-01):
// per-range writers sent 64 INSERTs of about 3500 rows, whose small parts
// the engine then merged (310k rows merged for 223k inserted); one writer
// sends 12 and merges fewer. It holds one batch filling and one in
// flight, as one read does, where each range's own writer sent its rows
// after every page: with batches of 20,000 lead rows (12 MB of RowBinary
// each, in buffers of up to 20 MB) the sync's largest Go heap at 1M leads
// went from 167–193 MB to 229–255 MB (BenchmarkSyncPeakRSS); the byte
// bound (batchBytesShare in load.go) takes about 30 MB of it back. A
// batch ends at the first page boundary past a bound, so it can pass the
// byte bound by the pages of the other ranges appended meanwhile
// (one each at most). Each range maps its records into rows itself; only
// the append to the batch is under the lock.
type rangeWriter struct {
	ts *tableSync // the writer's own copy: its res counts the rows stored

	mu   sync.Mutex
	w    *batchWriter
	open uint64 // batches flushed so far: the number of the open one
	err  error  // the first write that failed; every range stops on it
}

func (ts *tableSync) newRangeWriter() *rangeWriter {
	own := *ts
	own.res = &TableResult{}
	return &rangeWriter{ts: &own, w: newBatchWriter(&own)}
}

// do runs f on the writer under the lock, unless a write failed before:
// the first error stays, and every range stops on it.
func (rw *rangeWriter) do(f func(w *batchWriter) error) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.err == nil {
		rw.err = f(rw.w)
	}
	return rw.err
}

// add appends one row, made by the range's liveRow.
func (rw *rangeWriter) add(ctx context.Context, row []any, version uint64) error {
	return rw.do(func(w *batchWriter) error { return w.append(ctx, row, version) })
}

// pageDone is called after a range appended a page's rows: it flushes
// the batch when full, and returns the number of the batch that holds
// the page's rows and the batches flushed so far.
func (rw *rangeWriter) pageDone(ctx context.Context) (batch, flushed uint64, err error) {
	err = rw.do(func(w *batchWriter) error {
		batch = rw.open
		if w.full() {
			if err := w.flush(ctx); err != nil {
				return err
			}
			rw.open++
		}
		flushed = rw.open
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return batch, flushed, nil
}

// stored waits until every batch flushed so far is stored.
func (rw *rangeWriter) stored() error {
	return rw.do((*batchWriter).wait)
}

// finish writes everything collected and waits until it is stored.
func (rw *rangeWriter) finish(ctx context.Context) error {
	return rw.do(func(w *batchWriter) error { return w.finish(ctx) })
}

// abort drops what is not written yet (after finish: nothing).
func (rw *rangeWriter) abort() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.w.abort()
}

// copyRange reads one range's pages into rw, and saves a checkpoint about
// every Options.CheckpointEvery: the link of the latest page whose rows,
// and those of every page before it, are stored. It returns the link
// after the last page handled ("" at the end); once rw is finished, every
// row before it is stored.
func (ts *tableSync) copyRange(ctx context.Context, r *dataverse.Reader, rw *rangeWriter, checkpoint func(context.Context, string) error) (string, error) {
	// writes finish even when ctx is canceled: the rows read land
	wctx := context.WithoutCancel(ctx)
	syncedAt := rw.w.syncedAt
	var row []any
	next := ""
	// the page before and the latest one whose batch is flushed: a range's
	// rows go into batches in order, so every page before it is flushed too
	var prevNext, ready string
	var prevBatch uint64
	lastPoint := time.Now()
	for {
		page, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return next, nil
		}
		if err != nil {
			return next, err
		}
		ts.res.Pages++
		for i := range page.Records {
			var version uint64
			row, version, err = ts.liveRow(&page.Records[i], row[:0], syncedAt)
			if err == nil {
				err = rw.add(wctx, row, version)
			}
			if err != nil {
				clear(row)
				page.Release()
				return next, err
			}
		}
		page.Release()
		batch, flushed, err := rw.pageDone(wctx)
		if err != nil {
			return next, err
		}
		if prevNext != "" && prevBatch < flushed {
			ready = prevNext
		}
		if page.NextLink != "" && batch < flushed {
			ready = page.NextLink
		}
		next, prevNext, prevBatch = page.NextLink, page.NextLink, batch
		if checkpoint != nil && ready != "" && time.Since(lastPoint) >= ts.opts.CheckpointEvery {
			// the checkpoint says every row before ready is written
			if err := rw.stored(); err != nil {
				return next, err
			}
			if err := checkpoint(wctx, ready); err != nil {
				return next, err
			}
			ready, lastPoint = "", time.Now()
		}
	}
}

// loadRange is one range of a ranged load and where it stands.
type loadRange struct {
	no     uint16
	filter string
	next   string
	done   bool
}

// saveRanges records where ranges of the load in ts.gen stand
// (sql/schema/0013_sync_ranges.sql).
func (ts *tableSync) saveRanges(ctx context.Context, ranges ...loadRange) error {
	now := time.Now().UTC()
	rows := make([][]any, len(ranges))
	for i, r := range ranges {
		var done uint8
		if r.done {
			done = 1
		}
		rows[i] = []any{ts.opts.Environment, ts.entity.LogicalName, ts.gen, r.no, r.filter, r.next, done, now, uint64(now.UnixNano())}
	}
	err := warehouse.InsertRows(ctx, ts.opts.Store, "sync_ranges", []string{"environment", "table_name", "generation", "range_no", "filter", "next_link", "done", "updated_at", "seq"}, rows)
	if err != nil {
		return fmt.Errorf("save the ranges of %s: %w", ts.entity.LogicalName, err)
	}
	return nil
}

// savedRanges reads the ranges of the load in ts.gen.
func (ts *tableSync) savedRanges(ctx context.Context) ([]loadRange, error) {
	rows, err := ts.opts.Store.Query(ctx, "SELECT range_no, filter, next_link, done FROM sync_ranges FINAL WHERE environment = ? AND table_name = ? AND generation = ? ORDER BY range_no",
		ts.opts.Environment, ts.entity.LogicalName, ts.gen)
	if err != nil {
		return nil, fmt.Errorf("read the ranges of %s: %w", ts.entity.LogicalName, err)
	}
	defer rows.Close()
	var out []loadRange
	for rows.Next() {
		var r loadRange
		var done uint8
		if err := rows.Scan(&r.no, &r.filter, &r.next, &done); err != nil {
			return nil, fmt.Errorf("read the ranges of %s: %w", ts.entity.LogicalName, err)
		}
		r.done = done == 1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the ranges of %s: %w", ts.entity.LogicalName, err)
	}
	return out, nil
}

// tracking syncs a table whose ranged load is done while its walk is not:
// the walk goes on from the saved link, beside a modifiedon increment, to
// its end, and the delta its link reports is applied at once — so the
// tracking phase is one sync (the first after the load), which also
// applies every delete made during and since the load: the walk's delta
// link is from before the load read a row. No key reconciliation is
// needed for that. The walk's pages are only counted, one round trip
// each; they are the price of the delta link, paid once. A walk that fails
// part way saves where it got to and goes on in the next sync. A saved link
// the source refuses starts the walk over; its new delta link starts now,
// so the keys are reconciled once its first page is answered, which finds
// what was deleted before.
func (ts *tableSync) tracking(ctx context.Context, st state, sel []string) error {
	ts.readOtherwise()
	ts.res.Mode = ModeTracking
	ts.gen = st.Generation
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, ModeTracking, -1)
	q := dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: sel, TrackChanges: true}
	resumed := q
	resumed.NextLink = st.NextLink
	w := ts.startWalk(ctx, resumed, 0)
	defer func() { w.cancel() }()
	rq := dataverse.WatermarkQuery(ts.entity.EntitySetName, ts.entity.PrimaryIDAttribute, sel, st.Watermark.Add(-ts.opts.Overlap))
	r := ts.opts.Client.Read(ctx, rq)
	_, newest, err := ts.copyPages(ctx, r, nil)
	r.Close()
	if err != nil {
		return err
	}
	mark := newest
	if mark.Before(st.Watermark) {
		mark = st.Watermark
	}
	note := "loaded in ranges; changes read by modifiedon while the tracked read for the delta link ended"
	refused := false
	// the walk's first answer, requested beside the increment's: a
	// refused link starts the walk over
	werr := w.first(ctx)
	if errors.Is(werr, dataverse.ErrLinkRefused) {
		_, _, _ = w.stop()
		ts.log.Warn("the tracked read cannot go on from its saved link; it starts over", "error", werr)
		w = ts.startWalk(ctx, q, 0)
		if err := w.first(ctx); err != nil {
			return err
		}
		if err := ts.reconcileKeys(ctx); err != nil {
			return err
		}
		note = refusedNote(ts.res.Note)
		refused = true
	} else if werr != nil {
		return werr
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	link, next, werr := w.stop()
	if link == "" {
		if next == "" {
			next = st.NextLink
		}
		ts.res.Note = note + fmt.Sprintf("; the tracked read for the delta link stopped after %d pages and goes on in the next sync", w.pages)
		if werr != nil {
			ts.res.Note += ": " + werr.Error()
		}
		return ts.states.save(ctx, ts.entity.LogicalName, state{Mode: ModeTracking, Watermark: mark, NextLink: next, Columns: sel, Generation: ts.gen})
	}
	if refused {
		// its delta has the deletes since it started over; the keys read
		// found those before
		ts.res.Note = note + fmt.Sprintf("; the new tracked read ended in this sync (%d pages), and its first delta is applied: delta syncs from the next run", w.pages)
	} else {
		ts.res.Note = note + fmt.Sprintf(" (%d pages in this sync), and its first delta is applied, with the deletes made since the load began: delta syncs from the next run", w.pages)
	}
	return ts.applyDelta(ctx, link, sel)
}

// refusedNote is the note of a tracking sync whose saved tracked-read link
// the source refused: the tracked read started over in this sync, and the
// keys were read for the deletes made before its new link, which it cannot
// show; reconciled is the key reconciliation's note.
func refusedNote(reconciled string) string {
	note := "loaded in ranges; changes read by modifiedon; the tracked read for the delta link started over (its saved link was refused) and the keys were read for the deletes made before it"
	if counts, ok := strings.CutPrefix(reconciled, untrackedNote+": deletes found by reading its keys "); ok {
		note += " " + counts // (n keys, m deleted)
	}
	return note
}

// bounds are a table's oldest and newest createdon, or why they could not
// be read.
type bounds struct {
	lo, hi time.Time
	err    error
}

// startBounds reads the createdon bounds in the background.
func (ts *tableSync) startBounds(ctx context.Context) <-chan bounds {
	c := make(chan bounds, 1)
	go func() {
		lo, hi, err := ts.createdBounds(ctx)
		c <- bounds{lo, hi, err}
	}()
	return c
}

// startWalkNow starts a load's walk (the tracked read for its delta link)
// and returns when it began.
func (ts *tableSync) startWalkNow(ctx context.Context, sel []string) (time.Time, *walk) {
	began := time.Now().UTC()
	return began, ts.startWalk(ctx, dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: sel, TrackChanges: true}, 1)
}

// createdBounds reads the oldest and newest createdon of the table (two
// requests with $top=1, at once).
func (ts *tableSync) createdBounds(ctx context.Context) (lo, hi time.Time, err error) {
	var errLo, errHi error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); lo, errLo = ts.createdEnd(ctx, "asc") }()
	go func() { defer wg.Done(); hi, errHi = ts.createdEnd(ctx, "desc") }()
	wg.Wait()
	if err := errors.Join(errLo, errHi); err != nil {
		return lo, hi, fmt.Errorf("read the createdon range of %s: %w", ts.entity.EntitySetName, err)
	}
	return lo, hi, nil
}

func (ts *tableSync) createdEnd(ctx context.Context, dir string) (time.Time, error) {
	pk := ts.entity.PrimaryIDAttribute
	r := ts.opts.Client.Read(ctx, dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: []string{pk, "createdon"},
		OrderBy: "createdon " + dir + "," + pk + " " + dir, Top: 1})
	defer r.Close()
	var at time.Time
	for {
		page, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return at, nil
		}
		if err != nil {
			return at, err
		}
		for i := range page.Records {
			if f := page.Records[i].Field("createdon"); f != nil && f.Value.Kind == dataverse.KindString {
				if t, err := dataverse.ParseTime(f.Value.Text); err == nil {
					at = t
				}
			}
		}
		page.Release()
	}
}

// rangeFilters splits [lo, hi] into n createdon ranges of equal length,
// whole seconds; the first is open below and the last open above, and one
// more range holds the rows without createdon (Dataverse sets it on every
// row; one request makes sure), so that together they hold every row.
// Fewer than n when the span has fewer seconds; [""] (the whole table)
// for one.
func rangeFilters(lo, hi time.Time, n int) []string {
	lo, hi = lo.UTC().Truncate(time.Second), hi.UTC().Truncate(time.Second)
	span := hi.Sub(lo)
	if n < 1 || span < time.Duration(n)*time.Second {
		n = max(1, int(span/time.Second))
	}
	if n == 1 {
		return []string{""}
	}
	lit := func(t time.Time) string { return t.Format("2006-01-02T15:04:05Z") }
	bounds := make([]time.Time, n-1)
	for i := range bounds {
		bounds[i] = lo.Add((span * time.Duration(i+1) / time.Duration(n)).Truncate(time.Second))
	}
	out := make([]string, 0, n)
	out = append(out, "createdon lt "+lit(bounds[0]))
	for i := 1; i < len(bounds); i++ {
		out = append(out, "createdon ge "+lit(bounds[i-1])+" and createdon lt "+lit(bounds[i]))
	}
	return append(out, "createdon ge "+lit(bounds[len(bounds)-1]), "createdon eq null")
}

// walk is a tracked read in the background whose pages are only counted:
// it is there for the delta link of its last page. Its rows are not
// decoded (LinksOnly): a ranged load's walk reads a full first page of
// every column, and the tracking sync after the load reads the rest of
// the table, one page a round trip. Its pages are as large as any read's:
// a smaller first page (one row) would be cheaper, but Dataverse wants
// the same odata.maxpagesize on every page of a read (its paging cookie
// counts pages), and the walk goes on from that page's link.
type walk struct {
	cancel context.CancelFunc
	done   chan struct{}
	firstc chan struct{} // closed at the first page, or when the walk ends

	mu         sync.Mutex
	next, link string
	pages      int
	err        error
}

// startWalk starts a walk of q that reads at most pages pages (0: to the
// end). A load's walk reads its first page only: the load needs its start
// and the link of the page after it, and more pages would compete with
// the ranges' at the source. A tracking sync's walk reads to the end.
func (ts *tableSync) startWalk(ctx context.Context, q dataverse.Query, pages int) *walk {
	q.LinksOnly, q.MaxPages = true, pages
	ctx, cancel := context.WithCancel(ctx)
	w := &walk{cancel: cancel, done: make(chan struct{}), firstc: make(chan struct{})}
	r := ts.opts.Client.Read(ctx, q)
	go func() {
		defer close(w.done)
		defer r.Close()
		var once sync.Once
		first := func() { once.Do(func() { close(w.firstc) }) }
		defer first()
		for {
			page, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				w.mu.Lock()
				if ctx.Err() == nil {
					w.err = err
				}
				w.mu.Unlock()
				return
			}
			w.mu.Lock()
			w.pages++
			w.next = page.NextLink
			if page.DeltaLink != "" {
				w.link = page.DeltaLink
			}
			w.mu.Unlock()
			page.Release()
			first()
		}
	}()
	return w
}

// progress is where the walk stands now.
func (w *walk) progress() (link, next string, pages int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.link, w.next, w.pages
}

// first waits for the walk's first page; an error if it has none.
func (w *walk) first(ctx context.Context) error {
	select {
	case <-w.firstc:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pages == 0 {
		if w.err != nil {
			return fmt.Errorf("tracked read: %w", w.err)
		}
		return errors.New("the tracked read ended without a page")
	}
	return nil
}

// stop ends the walk and returns its delta link if it reached the end,
// else the link of the page after the last one read; err is why it ended
// early, if it failed.
func (w *walk) stop() (link, next string, err error) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		err = fmt.Errorf("tracked read: %w", w.err)
	}
	return w.link, w.next, err
}
