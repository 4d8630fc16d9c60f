package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
)

// full loads every row of the table with change tracking requested, then
// tombstones what the warehouse holds but the load did not see, and stores
// the delta link.
//
// A long load saves checkpoints: at a page boundary, once every row before
// it is in the warehouse, the state records the next page's link (at most
// every Options.CheckpointEvery, and always when the load stops on an
// error or cancellation). With resume set, the load goes on from such a
// checkpoint, with the scratch table of keys the first part saw. The
// paging cookie in the link carries the change-tracking snapshot of the
// load's start, so the delta link at its end covers what changed since
// then, the pause included (VERIFY against Dataverse: the simulator does).
func (ts *tableSync) full(ctx context.Context, mode string, sel []string, resume *state) (err error) {
	ts.res.Mode = mode
	total := ts.estimate(ctx)
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, mode, total)
	var seen *seenSet
	q := dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: sel, TrackChanges: true}
	if resume != nil {
		q.NextLink = resume.NextLink
		if resume.SeenTable != "" {
			if seen, err = ts.openSeen(ctx, resume.SeenTable); err != nil {
				return err
			}
		}
	} else if seen, err = ts.newSeen(ctx); err != nil {
		return err
	}
	// a saved checkpoint (the one resumed from, or a new one) needs the
	// scratch table until the load ends
	checkpointed := resume != nil
	defer func() {
		if err == nil || !checkpointed {
			seen.drop(ctx)
		}
	}()
	point := state{Mode: mode, Columns: sel}
	if seen != nil {
		point.SeenTable = seen.table
	}
	checkpoint := func(ctx context.Context, next string) error {
		point.NextLink = next
		if err := ts.states.save(ctx, ts.entity.LogicalName, point); err != nil {
			return err
		}
		checkpointed = true
		return nil
	}
	r := ts.opts.Client.Read(ctx, q)
	defer r.Close()
	link, _, err := ts.copyPages(ctx, r, seen, checkpoint)
	if err != nil {
		return err
	}
	if link == "" {
		return fmt.Errorf("the last page of %s carried no @odata.deltaLink although change tracking was requested", ts.entity.EntitySetName)
	}
	if err := ts.reconcile(ctx, seen); err != nil {
		return err
	}
	return ts.states.save(ctx, ts.entity.LogicalName, state{Mode: ModeDelta, DeltaLink: link, Columns: sel})
}

// delta applies the changes since link and stores the next link.
func (ts *tableSync) delta(ctx context.Context, link string, sel []string) error {
	ts.res.Mode = ModeDelta
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, ModeDelta, -1)
	r := ts.opts.Client.Read(ctx, dataverse.Query{DeltaLink: link})
	defer r.Close()
	next, _, err := ts.copyPages(ctx, r, nil, nil)
	if err != nil {
		return err
	}
	if next == "" {
		return fmt.Errorf("the delta response for %s carried no @odata.deltaLink", ts.entity.EntitySetName)
	}
	return ts.states.save(ctx, ts.entity.LogicalName, state{Mode: ModeDelta, DeltaLink: next, Columns: sel})
}

// watermark reads rows modified since mark minus the overlap (all rows when
// mark is zero), oldest first, and stores the newest modifiedon seen.
func (ts *tableSync) watermark(ctx context.Context, mark time.Time, sel []string) error {
	full := mark.IsZero()
	mode := ModeWatermark
	var total int64 = -1
	if full {
		mode = ModeFull
		total = ts.estimate(ctx)
	}
	ts.res.Mode = mode
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, mode, total)
	since := mark
	if !full {
		since = mark.Add(-ts.opts.Overlap)
	}
	q := dataverse.WatermarkQuery(ts.entity.EntitySetName, ts.entity.PrimaryIDAttribute, sel, since)
	var seen *seenSet
	if full {
		var err error
		if seen, err = ts.newSeen(ctx); err != nil {
			return err
		}
		defer seen.drop(ctx)
	}
	r := ts.opts.Client.Read(ctx, q)
	defer r.Close()
	_, newest, err := ts.copyPages(ctx, r, seen, nil)
	if err != nil {
		return err
	}
	if full {
		if err := ts.reconcile(ctx, seen); err != nil {
			return err
		}
	}
	if newest.Before(mark) {
		newest = mark
	}
	return ts.states.save(ctx, ts.entity.LogicalName, state{Mode: ModeWatermark, Watermark: newest, Columns: sel})
}

// estimate asks for the table's row count for progress; -1 if unknown.
func (ts *tableSync) estimate(ctx context.Context) int64 {
	n, err := ts.opts.Client.RecordCount(ctx, ts.entity.LogicalName)
	if err != nil {
		ts.log.Debug("no row count for progress", "error", err)
		return -1
	}
	return n
}

// copyPages writes every page of r to the landing table (and the keys to
// seen, when given) and returns the delta link of the last page and the
// newest modifiedon seen. Deletes go into the same INSERTs as the rows, so
// a delta costs one INSERT per batch however many pages it has.
//
// Batches end at page boundaries. When checkpoint is given, it is called
// with the link of the next page after a batch is written: at most every
// Options.CheckpointEvery, and when the read stops on an error or a
// cancellation, so that the rows written so far need not be read again.
func (ts *tableSync) copyPages(ctx context.Context, r *dataverse.Reader, seen *seenSet, checkpoint func(context.Context, string) error) (link string, newest time.Time, err error) {
	w := newBatchWriter(ts, seen)
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
		if w.rows() >= ts.opts.BatchRows {
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
// go on during an INSERT.
type batchWriter struct {
	ts       *tableSync
	seen     *seenSet
	batch    warehouse.Batch
	keys     []uuid.UUID // for seen: the keys in batch
	row      []any
	syncedAt time.Time

	// for tombstones: the deleted keys not written yet, the keys in batch
	// (tracked once the read has shown a delete), and the highest version
	// read so far
	deleted    []uuid.UUID
	pending    map[uuid.UUID]struct{}
	maxVersion uint64

	upserts, stones uint64 // rows and tombstones in batch

	sending chan sent   // the batch in flight, nil if none
	spare   []uuid.UUID // a keys buffer to reuse, back from the last send
}

// sent is what a batch sent in the background reports.
type sent struct {
	err             error
	rows            int
	upserts, stones uint64
	keys            []uuid.UUID
}

func newBatchWriter(ts *tableSync, seen *seenSet) *batchWriter {
	w := &batchWriter{ts: ts, seen: seen, syncedAt: time.Now().UTC().Truncate(time.Second)}
	return w
}

func (w *batchWriter) begin(ctx context.Context) error {
	if w.batch != nil {
		return nil
	}
	b, err := w.ts.opts.Store.PrepareInsert(ctx, w.ts.landing.Table(), w.ts.cols)
	if err != nil {
		return err
	}
	w.batch = b
	return nil
}

func (w *batchWriter) upsert(ctx context.Context, rec *dataverse.Record) error {
	ts := w.ts
	if err := w.begin(ctx); err != nil {
		return err
	}
	row, err := ts.mapping.Row(rec, w.row[:0])
	if err != nil {
		return fmt.Errorf("%s: %w", ts.entity.EntitySetName, err)
	}
	version, _ := rec.Version()
	w.maxVersion = max(w.maxVersion, version)
	row = append(row, ts.opts.Environment, version, uint8(0), w.syncedAt)
	w.row = row
	if err := w.batch.Append(row...); err != nil {
		return fmt.Errorf("%s row: %w", ts.entity.EntitySetName, err)
	}
	w.upserts++
	if w.seen != nil || w.pending != nil {
		id, err := w.key(rec)
		if err != nil {
			return err
		}
		if w.seen != nil {
			w.keys = append(w.keys, id)
		}
		if w.pending != nil {
			w.pending[id] = struct{}{}
		}
	}
	return nil
}

// rows is how many rows and tombstones wait in the open batch.
func (w *batchWriter) rows() int {
	if w.batch == nil {
		return 0
	}
	return w.batch.Rows()
}

func (w *batchWriter) key(rec *dataverse.Record) (uuid.UUID, error) {
	key, err := w.ts.mapping.KeyOf(rec)
	if err != nil {
		return uuid.UUID{}, err
	}
	id, err := uuid.Parse(key)
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("%s: primary key %q is not a GUID", w.ts.entity.EntitySetName, key)
	}
	return id, nil
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
	b, keys, seen := w.batch, w.keys, w.seen
	out := sent{rows: b.Rows(), upserts: w.upserts, stones: w.stones, keys: keys}
	w.batch, w.keys, w.spare = nil, w.spare[:0], nil
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
		} else if seen != nil {
			out.err = seen.add(ctx, keys)
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
	w.spare = out.keys[:0]
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
	ids := make([]string, len(deleted))
	for i, id := range deleted {
		ids[i] = "'" + id.String() + "'"
	}
	key := warehouse.QuoteIdentifier(ts.landing.Key)
	q := fmt.Sprintf("SELECT %s, max(_version) FROM %s WHERE _environment = ? AND %s IN (%s) GROUP BY %s",
		key, warehouse.QuoteIdentifier(ts.landing.Table()), key, strings.Join(ids, ","), key)
	rows, err := ts.opts.Store.Query(ctx, q, ts.opts.Environment)
	if err != nil {
		return fmt.Errorf("find deleted %s rows: %w", ts.entity.LogicalName, err)
	}
	stored := make(map[uuid.UUID]uint64, len(deleted))
	for rows.Next() {
		var id uuid.UUID
		var version uint64
		if err := rows.Scan(&id, &version); err != nil {
			rows.Close()
			return err
		}
		stored[id] = version
	}
	rows.Close()
	if err := rows.Err(); err != nil {
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
		w.row = ts.tombstoneRow(w.row, id, max(version, w.maxVersion)+1, w.syncedAt)
		if err := w.batch.Append(w.row...); err != nil {
			return fmt.Errorf("%s tombstone: %w", ts.entity.EntitySetName, err)
		}
		w.stones++
		delete(w.pending, id)
	}
	return nil
}

// reconcile tombstones the live rows a full load did not see.
func (ts *tableSync) reconcile(ctx context.Context, seen *seenSet) error {
	if seen == nil {
		return nil // the load started on an empty table: nothing can be stale
	}
	s := ts.opts.Store
	key := warehouse.QuoteIdentifier(ts.landing.Key)
	table := warehouse.QuoteIdentifier(ts.landing.Table())
	from := fmt.Sprintf("FROM %s FINAL WHERE _environment = ? AND _deleted = 0 AND %s NOT IN (SELECT id FROM %s)",
		table, key, warehouse.QuoteIdentifier(seen.table))
	rows, err := s.Query(ctx, "SELECT count() "+from, ts.opts.Environment)
	if err != nil {
		return fmt.Errorf("find rows gone from %s: %w", ts.entity.LogicalName, err)
	}
	var gone uint64
	for rows.Next() {
		if err := rows.Scan(&gone); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if gone == 0 {
		return nil
	}
	err = s.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s, _environment, _version, _deleted, _synced_at) SELECT %s, _environment, _version + 1, 1, now() %s",
		table, key, key, from), ts.opts.Environment)
	if err != nil {
		return fmt.Errorf("tombstone rows gone from %s: %w", ts.entity.LogicalName, err)
	}
	ts.log.Info("rows gone from the source since the last full load", "rows", gone)
	ts.res.Deleted += gone
	return nil
}

// seenSet is a scratch table of the keys a full load has seen.
type seenSet struct {
	store warehouse.Store
	table string
}

// newSeen starts the scratch table of a full load, or returns nil when
// the landing table holds no rows of this environment yet: then no row can
// go stale and the load skips the bookkeeping.
func (ts *tableSync) newSeen(ctx context.Context) (*seenSet, error) {
	rows, err := ts.opts.Store.Query(ctx, "SELECT 1 FROM "+warehouse.QuoteIdentifier(ts.landing.Table())+" WHERE _environment = ? LIMIT 1", ts.opts.Environment)
	if err != nil {
		return nil, err
	}
	found := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, nil
	}
	h := sha256.Sum256([]byte(ts.opts.Environment))
	name := "sync_seen_" + ts.entity.LogicalName + "_" + hex.EncodeToString(h[:4])
	s := &seenSet{store: ts.opts.Store, table: name}
	q := warehouse.QuoteIdentifier(name)
	if err := s.store.Exec(ctx, "DROP TABLE IF EXISTS "+q); err != nil {
		return nil, err
	}
	if err := s.store.Exec(ctx, "CREATE TABLE "+q+" (id UUID) ENGINE = Log"); err != nil {
		return nil, fmt.Errorf("create scratch table %s: %w", name, err)
	}
	return s, nil
}

// errCannotResume says a checkpoint cannot be used; the load starts over.
var errCannotResume = errors.New("cannot resume")

// openSeen reopens the scratch table of an interrupted load.
func (ts *tableSync) openSeen(ctx context.Context, name string) (*seenSet, error) {
	cat, err := warehouse.ReadCatalog(ctx, ts.opts.Store, name)
	if err != nil {
		return nil, err
	}
	if len(cat[name]) == 0 {
		return nil, fmt.Errorf("%w: its scratch table %s is gone", errCannotResume, name)
	}
	return &seenSet{store: ts.opts.Store, table: name}, nil
}

func (s *seenSet) add(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	b, err := s.store.PrepareInsert(ctx, s.table, []string{"id"})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := b.Append(id); err != nil {
			b.Abort()
			return err
		}
	}
	return b.Send(ctx)
}

func (s *seenSet) drop(ctx context.Context) {
	if s == nil {
		return
	}
	_ = s.store.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+warehouse.QuoteIdentifier(s.table))
}
