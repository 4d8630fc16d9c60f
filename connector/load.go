package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
)

// full loads every row of the table with change tracking requested, then
// tombstones what the warehouse holds but the load did not see, and stores
// the delta link.
//
// Every full load writes its rows in a new generation (see
// landing.Version), saved in sync_state before the first row is written:
// its rows win over every row stored before, whatever their version
// numbers, and the rows it did not see are those whose newest version is
// of an older generation, which reconcile tombstones.
//
// A long load saves checkpoints: at a page boundary, once every row before
// it is in the warehouse, the state records the next page's link (at most
// every Options.CheckpointEvery, and always when the load stops on an
// error or cancellation). With resume set, the load goes on from such a
// checkpoint, in the generation it began. The paging cookie in the link
// carries the change-tracking snapshot of the load's start, so the delta
// link at its end covers what changed since then, the pause included
// (VERIFY against Dataverse: the simulator does).
func (ts *tableSync) full(ctx context.Context, mode string, sel []string, resume *state) error {
	ts.readOtherwise()
	if err := ts.slot.take(ctx); err != nil {
		return err
	}
	total := ts.estimate(ctx)
	if n := ts.rangeCount(total, sel); resume == nil && n > 1 {
		return ts.ranged(ctx, mode, sel, total, n)
	}
	ts.res.Mode = mode
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, mode, total)
	q := dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: sel, TrackChanges: true}
	stale := true // rows stored before the load may be gone from the source
	if resume != nil {
		q.NextLink = resume.NextLink
		ts.gen = resume.Generation
	} else {
		var err error
		if stale, err = ts.newGeneration(ctx, mode, sel); err != nil {
			return err
		}
	}
	point := state{Mode: mode, Columns: sel, Generation: ts.gen}
	checkpoint := func(ctx context.Context, next string) error {
		point.NextLink = next
		return ts.states.save(ctx, ts.entity.LogicalName, point)
	}
	r := ts.head.takeRead()
	if r == nil || resume != nil {
		r = ts.opts.Client.Read(ctx, q)
	}
	defer r.Close()
	link, _, err := ts.copyPages(ctx, r, checkpoint)
	if err != nil {
		return err
	}
	if link == "" {
		return fmt.Errorf("the last page of %s carried no @odata.deltaLink although change tracking was requested", ts.entity.EntitySetName)
	}
	if stale {
		if err := ts.reconcile(ctx); err != nil {
			return err
		}
	}
	ts.link = link
	return ts.states.save(ctx, ts.entity.LogicalName, state{Mode: ModeDelta, DeltaLink: link, Columns: sel, Generation: ts.gen})
}

// newGeneration starts the generation of a full load: one above the
// stored state's and above every row of the environment in the landing
// table (in case sync_state was lost), saved in sync_state before the load
// writes a row. A run killed before its first checkpoint so leaves a state
// that says a load was under way, and the next one loads again in a newer
// generation: rows of an unfinished load never outrank later ones. stale
// reports whether the landing table held rows of the environment.
func (ts *tableSync) newGeneration(ctx context.Context, mode string, sel []string) (stale bool, err error) {
	newest, n, err := ts.landing.Newest(ctx, ts.opts.Store, ts.opts.Environment)
	if err != nil {
		return false, fmt.Errorf("read the generation of %s: %w", ts.landing.Table(), err)
	}
	gen := uint64(max(ts.stored.Generation, landing.Generation(newest))) + 1
	if gen > landing.MaxGeneration {
		return false, fmt.Errorf("%s was loaded in full %d times, as many as _version can count: drop the table (DROP TABLE %s) and sync again to load it anew",
			ts.landing.Table(), landing.MaxGeneration, ts.landing.Table())
	}
	ts.gen = uint32(gen)
	return n > 0, ts.states.save(ctx, ts.entity.LogicalName, state{Mode: mode, Columns: sel, Generation: ts.gen})
}

// errVersionsBack says the source's versions went back since the last
// sync: the environment was restored from a backup or copied over.
type errVersionsBack struct{ was, now uint64 }

func (e *errVersionsBack) Error() string {
	return fmt.Sprintf("the source's versions went backwards (version %d, was %d; environment restored or copied?)", e.now, e.was)
}

// delta applies the changes since the stored delta link and stores the
// next link. A next link whose token version is lower than the stored
// one's means the source's versions went back: errVersionsBack, for the
// caller to reload.
func (ts *tableSync) delta(ctx context.Context, st state, sel []string) error {
	ts.res.Mode = ModeDelta
	ts.gen = st.Generation
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, ModeDelta, -1)
	return ts.applyDelta(ctx, st.DeltaLink, sel)
}

// applyDelta reads the changes a delta link reports, applies them (deletes
// included) and stores the next link, in delta mode. The read sent early
// for the link (early.go) is used when there is one; if its request
// failed, the request is sent again here.
func (ts *tableSync) applyDelta(ctx context.Context, link string, sel []string) error {
	var r *dataverse.Reader
	early := ts.early != nil && ts.early.r != nil && ts.early.link == link
	if early {
		r, ts.early.r = ts.early.r, nil
	} else {
		ts.dropEarly()
		r = ts.opts.Client.Read(ctx, dataverse.Query{DeltaLink: link})
	}
	next, _, err := ts.copyPages(ctx, r, nil)
	_ = r.Close()
	if err != nil && early && ts.res.Pages == 0 && ctx.Err() == nil {
		// nothing of the early answer was used
		ts.log.Debug("the delta request sent beside the metadata read failed; sending it again", "error", err)
		r = ts.opts.Client.Read(ctx, dataverse.Query{DeltaLink: link})
		next, _, err = ts.copyPages(ctx, r, nil)
		_ = r.Close()
	}
	if err != nil {
		return err
	}
	if next == "" {
		return fmt.Errorf("the delta response for %s carried no @odata.deltaLink", ts.entity.EntitySetName)
	}
	was, ok1 := dataverse.DeltaTokenVersion(link)
	now, ok2 := dataverse.DeltaTokenVersion(next)
	if ok1 && ok2 && now < was {
		return &errVersionsBack{was: was, now: now}
	}
	// before the link is saved: a crash in between passes the deletes on
	// again in the rerun
	if err := ts.tombstoneActivities(ctx, ts.cat); err != nil {
		return err
	}
	ts.link = next
	return ts.states.saveTogether(ctx, ts.entity.LogicalName, state{Mode: ModeDelta, DeltaLink: next, Columns: sel, Generation: ts.gen})
}

// watermark reads rows modified since the stored watermark minus the
// overlap, oldest first, and stores the newest modifiedon and versionnumber
// read; with st nil, it reads all rows in a new generation (a load in
// fullMode) and tombstones the rows it did not see. An increment whose
// newest versionnumber is below the stored one is errVersionsBack: the
// source went back (or its newest row was deleted, which the reload the
// caller makes then shows).
func (ts *tableSync) watermark(ctx context.Context, sel []string, st *state, fullMode string) error {
	ts.readOtherwise()
	full := st == nil
	mode := ModeWatermark
	var total int64 = -1
	if full {
		mode = fullMode
		total = ts.estimate(ctx)
	}
	ts.res.Mode = mode
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, mode, total)
	var mark time.Time
	stale := false
	if full {
		var err error
		if stale, err = ts.newGeneration(ctx, mode, sel); err != nil {
			return err
		}
	} else {
		mark, ts.gen = st.Watermark, st.Generation
	}
	since := mark
	if !full {
		since = mark.Add(-ts.opts.Overlap)
	}
	q := dataverse.WatermarkQuery(ts.entity.EntitySetName, ts.entity.PrimaryIDAttribute, sel, since)
	r := ts.opts.Client.Read(ctx, q)
	defer r.Close()
	_, newest, err := ts.copyPages(ctx, r, nil)
	if err != nil {
		return err
	}
	if !full && ts.sourceMax < st.SourceVersion {
		return &errVersionsBack{was: st.SourceVersion, now: ts.sourceMax}
	}
	if stale {
		if err := ts.reconcile(ctx); err != nil {
			return err
		}
	}
	if newest.Before(mark) {
		newest = mark
	}
	return ts.states.save(ctx, ts.entity.LogicalName, state{Mode: ModeWatermark, Watermark: newest, Columns: sel, Generation: ts.gen, SourceVersion: ts.sourceMax})
}

// dropEarly discards the table's early delta read, if it has one left
// (early.go).
func (ts *tableSync) dropEarly() {
	ts.early.close()
	ts.early = nil
}

// readOtherwise says the table is not read by its stored delta link in
// this run (or is done): its early read is discarded and it leaves the
// run's delta group, whose states then wait for it no longer.
func (ts *tableSync) readOtherwise() {
	ts.dropEarly()
	ts.states.leave(context.Background(), ts.res.Table)
}

// estimate asks for the table's row count for progress; -1 if unknown.
func (ts *tableSync) estimate(ctx context.Context) int64 {
	return ts.shared.estimate(ctx, ts.entity.LogicalName)
}

// copyPages writes every page of r to the landing table and returns the
// delta link of the last page and the newest modifiedon seen. Deletes go into the same INSERTs as the rows, so
// a delta costs one INSERT per batch however many pages it has.
//
// Batches end at page boundaries. When checkpoint is given, it is called
// with the link of the next page after a batch is written: at most every
// Options.CheckpointEvery, and when the read stops on an error or a
// cancellation, so that the rows written so far need not be read again.
func (ts *tableSync) copyPages(ctx context.Context, r *dataverse.Reader, checkpoint func(context.Context, string) error) (link string, newest time.Time, err error) {
	w := newBatchWriter(ts)
	defer w.abort()
	// Writes finish even when ctx is canceled (SIGTERM): the rows read so
	// far land, a checkpoint says where to go on, and the sync stops.
	wctx := context.WithoutCancel(ctx)
	next := ""              // the link after the last page handled
	lastPoint := time.Now() // when the last checkpoint was saved
	for {
		page, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ferr := w.finish(wctx); ferr != nil {
				return "", time.Time{}, errors.Join(err, ferr)
			}
			if checkpoint != nil && next != "" {
				if cerr := checkpoint(wctx, next); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}
			return "", time.Time{}, err
		}
		ts.res.Pages++
		newest = dataverse.Watermark(page, newest)
		for i := range page.Records {
			if err := w.upsert(wctx, &page.Records[i]); err != nil {
				return "", time.Time{}, err
			}
		}
		if err := w.delete(wctx, page.Deleted); err != nil {
			return "", time.Time{}, err
		}
		if page.DeltaLink != "" {
			link = page.DeltaLink
		}
		next = page.NextLink
		// the batch holds copies of the values (Batch.Append), and the
		// deleted ids are parsed: the page's memory can serve the next one
		page.Release()
		if w.full() {
			if err := w.flush(wctx); err != nil {
				return "", time.Time{}, err
			}
			if checkpoint != nil && next != "" && time.Since(lastPoint) >= ts.opts.CheckpointEvery {
				// the checkpoint says every row before next is written
				if err := w.wait(); err != nil {
					return "", time.Time{}, err
				}
				if err := checkpoint(wctx, next); err != nil {
					return "", time.Time{}, err
				}
				lastPoint = time.Now()
			}
		}
	}
	if err := w.finish(wctx); err != nil {
		return "", time.Time{}, err
	}
	return link, newest, ctx.Err()
}

// batchWriter turns records into landing rows and deletes into
// tombstones, and inserts them in batches. One batch at a time is sent in
// the background while the next one fills, so that reading and decoding
// go on during an INSERT. A batch ends at the first page boundary where
// it holds Options.BatchRows rows or Options.BatchBytes bytes, so that a
// writer holds at most two batches of BatchBytes and a page.
type batchWriter struct {
	ts       *tableSync
	batch    warehouse.Batch
	row      []any
	syncedAt time.Time

	// for tombstones: the deleted keys not written yet, the keys in batch
	// (tracked once the read has shown a delete), and the highest landing
	// version read so far
	deleted    []uuid.UUID
	pending    map[uuid.UUID]struct{}
	maxVersion uint64

	upserts, stones uint64 // rows and tombstones in batch

	sending chan sent // the batch in flight, nil if none
}

// sent is what a batch sent in the background reports.
type sent struct {
	err             error
	rows            int
	upserts, stones uint64
}

// batchBytesShare: a batch's byte bound (Options.BatchBytes) is this
// share of the client's memory budget (dataverse.Config.MemoryBudget,
// sync.memory_budget_mb): 4 MB at the default 64 MB. A lead row is about
// 590 bytes of RowBinary (the embedded batch's Native columns, since
// session 10, take some 7 % more: a NULL holds its type's zero), a page of
// 5000 about 3 MB: a batch of lead rows ends after two pages (10,000
// rows) where BatchRows alone let it grow to 20,000 rows, 12 MB, in
// buffers of up to 20 MB (the embedded batch starts another block at
// 8 MB), and a writer holds two. Measured
// (BenchmarkSyncPeakRSS, defaults, alternated with main, 2026-12-01,
// load average 7–14): the sync's largest Go heap at 1M leads 209 MB
// (median of five) against main's 242, 1.71x the 10k figure against
// 1.83x. A thirty-second (2 MB, about a page per INSERT) gave 184 and
// 190 MB, within this share's spread (187–239), and on a quiet machine
// 226 and 223 MB against this share's 209–221: not taken.
//
// The bound applies to every batch writer, one read's too: measured, it
// costs no CPU there either (BenchmarkSync, 100k leads, every table in
// one read: 77 INSERTs instead of 61, the sync's CPU 0.74x and 0.80x of
// decode plus insert against main's 0.86x and 0.85x in the same runs;
// BenchmarkRangedLoad at 200k: 30 INSERTs instead of 19, no more CPU in
// ranges nor in one read; docs/performance.md has the figures), and one
// rule keeps every writer within the budget's share, large tables read in
// one read (sync.parallel_ranges 1, activitypointer) included.
//
// A fixed share rather than batches counted in the page budget: counted
// there, a read would wait for budget a filling batch holds, and that
// batch is only sent once more pages come; the batch would have to be
// sent when reads wait, which is a bound again, with the client and the
// writer tied together. Not tried, for that reason.
const batchBytesShare = 16

// defaultBatchBytes is Options.BatchBytes's default for client: a
// share of its memory budget, or of dataverse.DefaultMemoryBudget when
// the budget is off.
func defaultBatchBytes(c *dataverse.Client) int {
	b := int64(dataverse.DefaultMemoryBudget)
	if c != nil && c.MemoryBudget() > 0 {
		b = c.MemoryBudget()
	}
	return int(b / batchBytesShare)
}

func newBatchWriter(ts *tableSync) *batchWriter {
	return &batchWriter{ts: ts, syncedAt: time.Now().UTC().Truncate(time.Second)}
}

func (w *batchWriter) begin(ctx context.Context) error {
	if w.batch != nil {
		return nil
	}
	// the landing table's own insert settings (no collapsing of keys at insert)
	ctx = warehouse.WithInsertSettings(ctx, landing.InsertSettings(w.ts.opts.Store.Dialect())...)
	ctx = warehouse.WithBatchBound(ctx, warehouse.BatchBound{Rows: w.ts.opts.BatchRows, Bytes: w.ts.opts.BatchBytes})
	b, err := w.ts.opts.Store.PrepareInsert(ctx, w.ts.landing.Table(), w.ts.rows.Columns())
	if err != nil {
		return err
	}
	w.batch = b
	return nil
}

func (w *batchWriter) upsert(ctx context.Context, rec *dataverse.Record) error {
	row, version, err := w.ts.liveRow(rec, w.row[:0], w.syncedAt)
	w.row = row
	if err != nil {
		return err
	}
	return w.append(ctx, row, version)
}

// liveRow maps rec into buf as a landing row of ts's generation, synced
// at syncedAt, and returns it with its landing version.
func (ts *tableSync) liveRow(rec *dataverse.Record, buf []any, syncedAt time.Time) ([]any, uint64, error) {
	row, err := ts.mapping.Row(rec, buf)
	if err != nil {
		return row, 0, fmt.Errorf("%s: %w", ts.entity.EntitySetName, err)
	}
	version, _ := rec.Version()
	if version > landing.MaxSourceVersion {
		return row, 0, fmt.Errorf("%s: versionnumber %d is above %d, the most _version holds beside the load generation", ts.entity.EntitySetName, version, uint64(landing.MaxSourceVersion))
	}
	ts.sourceMax = max(ts.sourceMax, version)
	version = landing.Version(ts.gen, version)
	return ts.rows.Live(row, version, syncedAt), version, nil
}

// append adds a row liveRow made to the open batch, and clears it.
func (w *batchWriter) append(ctx context.Context, row []any, version uint64) error {
	if err := w.begin(ctx); err != nil {
		return err
	}
	w.maxVersion = max(w.maxVersion, version)
	if w.pending != nil {
		// the key is the row's first value, parsed by Row
		w.pending[row[0].(uuid.UUID)] = struct{}{}
	}
	if err := w.batch.Append(row...); err != nil {
		return fmt.Errorf("%s row: %w", w.ts.entity.EntitySetName, err)
	}
	// the batch holds copies; the values point into the page's body,
	// which must not stay alive past the page through the row
	clear(row)
	w.upserts++
	return nil
}

// full says the open batch is to be sent: it holds Options.BatchRows rows
// or Options.BatchBytes bytes.
func (w *batchWriter) full() bool {
	if w.batch == nil {
		return false
	}
	return w.batch.Rows() >= w.ts.opts.BatchRows || (w.ts.opts.BatchBytes > 0 && w.batch.Bytes() >= w.ts.opts.BatchBytes)
}

// delete queues tombstones for the deleted ids; they are written with the
// next flush.
func (w *batchWriter) delete(ctx context.Context, deleted []dataverse.Deleted) error {
	if len(deleted) == 0 {
		return nil
	}
	if w.pending == nil {
		// from now on remember the keys of the open batch: a key both
		// written and deleted within it is not in the warehouse yet
		w.pending = map[uuid.UUID]struct{}{}
	}
	for _, d := range deleted {
		id, err := uuid.Parse(d.ID)
		if err != nil {
			return fmt.Errorf("%s: deleted entity id %q is not a GUID", w.ts.entity.EntitySetName, d.ID)
		}
		w.deleted = append(w.deleted, id)
		if isActivity(w.ts.entity) {
			w.ts.activityDeletes = append(w.ts.activityDeletes, id)
		}
	}
	if len(w.deleted) >= w.ts.opts.BatchRows {
		return w.flush(ctx)
	}
	return nil
}

// flush starts sending the rows and tombstones collected so far as one
// INSERT, once the batch sent before is in; wait or finish says when it
// is.
func (w *batchWriter) flush(ctx context.Context) error {
	if len(w.deleted) > 0 {
		// tombstones read the stored versions of the deleted keys: the
		// rows in flight must be stored first
		if err := w.wait(); err != nil {
			return err
		}
	}
	if err := w.tombstones(ctx); err != nil {
		return err
	}
	if w.batch == nil {
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	b := w.batch
	out := sent{rows: b.Rows(), upserts: w.upserts, stones: w.stones}
	w.batch = nil
	w.upserts, w.stones = 0, 0
	if w.pending != nil {
		// the keys in flight are found by tombstones once they are stored
		clear(w.pending)
	}
	done := make(chan sent, 1)
	w.sending = done
	table := w.ts.landing.Table()
	go func() {
		if err := b.Send(ctx); err != nil {
			out.err = fmt.Errorf("insert into %s: %w", table, err)
		}
		done <- out
	}()
	return nil
}

// wait waits for the batch in flight, if any, and counts its rows.
func (w *batchWriter) wait() error {
	if w.sending == nil {
		return nil
	}
	out := <-w.sending
	w.sending = nil
	if out.err != nil {
		return out.err
	}
	w.ts.res.Upserted += out.upserts
	w.ts.res.Deleted += out.stones
	w.ts.opts.Progress.Rows(w.ts.opts.Environment, w.ts.entity.LogicalName, out.rows)
	return nil
}

// finish writes everything collected and waits until it is stored.
func (w *batchWriter) finish(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		return errors.Join(err, w.wait())
	}
	return w.wait()
}

// abort drops the open batch and waits for the one in flight: nothing of
// this writer goes on after the table's sync returns.
func (w *batchWriter) abort() {
	if w.batch != nil {
		w.batch.Abort()
		w.batch = nil
		w.upserts, w.stones = 0, 0
	}
	_ = w.wait()
}

// tombstones appends to the batch a tombstone for each queued deleted key
// the warehouse or the batch holds, with a version above every version
// of that key: above the newest stored one, and above every version read
// in this run (which covers the rows of the open batch). Keys never
// stored (created and deleted between two syncs) need nothing.
func (w *batchWriter) tombstones(ctx context.Context) error {
	if len(w.deleted) == 0 {
		return nil
	}
	ts := w.ts
	deleted := w.deleted
	w.deleted = w.deleted[:0]
	stored, err := ts.landing.StoredVersions(ctx, ts.opts.Store, ts.opts.Environment, deleted)
	if err != nil {
		return fmt.Errorf("find deleted %s rows: %w", ts.entity.LogicalName, err)
	}
	for _, id := range deleted {
		version, ok := stored[id]
		if _, inBatch := w.pending[id]; !ok && !inBatch {
			continue
		}
		if err := w.begin(ctx); err != nil {
			return err
		}
		// a tombstone carries only the key: the other columns get their
		// defaults, and the view hides it
		w.row = ts.rows.Tombstone(w.row, id, max(version, w.maxVersion)+1, w.syncedAt)
		if err := w.batch.Append(w.row...); err != nil {
			return fmt.Errorf("%s tombstone: %w", ts.entity.EntitySetName, err)
		}
		w.stones++
		delete(w.pending, id)
	}
	return nil
}

// reconcile tombstones the live rows a full load did not see: those whose
// newest version is of a generation before the load's. A tombstone's
// version is one above the row's, in the row's generation: it outranks the
// row, and a row the key gets again (an undone delete) outranks it.
func (ts *tableSync) reconcile(ctx context.Context) error {
	s, env := ts.opts.Store, ts.opts.Environment
	base := landing.Version(ts.gen, 0)
	gone, err := ts.landing.CountOlder(ctx, s, env, base)
	if err != nil {
		return fmt.Errorf("find rows gone from %s: %w", ts.entity.LogicalName, err)
	}
	if gone == 0 {
		return nil
	}
	if err := ts.landing.TombstoneOlder(ctx, s, env, base); err != nil {
		return fmt.Errorf("tombstone rows gone from %s: %w", ts.entity.LogicalName, err)
	}
	ts.log.Info("rows gone from the source since the last full load", "rows", gone)
	ts.res.Deleted += gone
	return nil
}
