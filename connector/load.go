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
func (ts *tableSync) full(ctx context.Context, mode string, sel []string) error {
	ts.res.Mode = mode
	total := ts.estimate(ctx)
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, mode, total)
	seen, err := ts.newSeen(ctx)
	if err != nil {
		return err
	}
	defer seen.drop(ctx)
	r := ts.opts.Client.Read(ctx, dataverse.Query{
		EntitySet:    ts.entity.EntitySetName,
		Select:       sel,
		TrackChanges: true,
	})
	defer r.Close()
	link, _, err := ts.copyPages(ctx, r, seen)
	if err != nil {
		return err
	}
	if link == "" {
		return fmt.Errorf("the last page of %s carried no @odata.deltaLink although change tracking was requested", ts.entity.EntitySetName)
	}
	if err := ts.reconcile(ctx, seen); err != nil {
		return err
	}
	return saveState(ctx, ts.opts.Store, ts.opts.Environment, ts.entity.LogicalName, state{Mode: ModeDelta, DeltaLink: link, Columns: sel})
}

// delta applies the changes since link and stores the next link.
func (ts *tableSync) delta(ctx context.Context, link string, sel []string) error {
	ts.res.Mode = ModeDelta
	ts.opts.Progress.TableStarted(ts.opts.Environment, ts.entity.LogicalName, ModeDelta, -1)
	r := ts.opts.Client.Read(ctx, dataverse.Query{DeltaLink: link})
	defer r.Close()
	next, _, err := ts.copyPages(ctx, r, nil)
	if err != nil {
		return err
	}
	if next == "" {
		return fmt.Errorf("the delta response for %s carried no @odata.deltaLink", ts.entity.EntitySetName)
	}
	return saveState(ctx, ts.opts.Store, ts.opts.Environment, ts.entity.LogicalName, state{Mode: ModeDelta, DeltaLink: next, Columns: sel})
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
	_, newest, err := ts.copyPages(ctx, r, seen)
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
	return saveState(ctx, ts.opts.Store, ts.opts.Environment, ts.entity.LogicalName, state{Mode: ModeWatermark, Watermark: newest, Columns: sel})
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
// newest modifiedon seen.
func (ts *tableSync) copyPages(ctx context.Context, r *dataverse.Reader, seen *seenSet) (link string, newest time.Time, err error) {
	w := newBatchWriter(ts, seen)
	defer w.abort()
	// Writes finish even when ctx is canceled (SIGTERM): the rows read so
	// far land, then the sync stops without saving state.
	wctx := context.WithoutCancel(ctx)
	for {
		page, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ferr := w.flush(wctx); ferr != nil {
				err = errors.Join(err, ferr)
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
		if len(page.Deleted) > 0 {
			// rows first: a tombstone's version is computed from what is stored
			if err := w.flush(wctx); err != nil {
				return "", time.Time{}, err
			}
			if err := ts.tombstone(wctx, page.Deleted); err != nil {
				return "", time.Time{}, err
			}
		}
		if page.DeltaLink != "" {
			link = page.DeltaLink
		}
	}
	if err := w.flush(wctx); err != nil {
		return "", time.Time{}, err
	}
	return link, newest, ctx.Err()
}

// batchWriter turns records into landing rows and inserts them in batches.
type batchWriter struct {
	ts       *tableSync
	seen     *seenSet
	batch    warehouse.Batch
	keys     []uuid.UUID
	row      []any
	syncedAt time.Time
}

func newBatchWriter(ts *tableSync, seen *seenSet) *batchWriter {
	w := &batchWriter{ts: ts, seen: seen, syncedAt: time.Now().UTC().Truncate(time.Second)}
	return w
}

func (w *batchWriter) upsert(ctx context.Context, rec *dataverse.Record) error {
	ts := w.ts
	if w.batch == nil {
		b, err := ts.opts.Store.PrepareInsert(ctx, ts.landing.Table(), ts.cols)
		if err != nil {
			return err
		}
		w.batch = b
	}
	row, err := ts.mapping.Row(rec, w.row[:0])
	if err != nil {
		return fmt.Errorf("%s: %w", ts.entity.EntitySetName, err)
	}
	version, _ := rec.Version()
	row = append(row, ts.opts.Environment, version, uint8(0), w.syncedAt)
	w.row = row
	if err := w.batch.Append(row...); err != nil {
		return fmt.Errorf("%s row: %w", ts.entity.EntitySetName, err)
	}
	if w.seen != nil {
		key, err := ts.mapping.KeyOf(rec)
		if err != nil {
			return err
		}
		id, err := uuid.Parse(key)
		if err != nil {
			return fmt.Errorf("%s: primary key %q is not a GUID", ts.entity.EntitySetName, key)
		}
		w.keys = append(w.keys, id)
	}
	if w.batch.Rows() >= ts.opts.BatchRows {
		return w.flush(ctx)
	}
	return nil
}

// flush sends the rows collected so far.
func (w *batchWriter) flush(ctx context.Context) error {
	if w.batch == nil {
		return nil
	}
	b := w.batch
	n := b.Rows()
	w.batch = nil
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("insert into %s: %w", w.ts.landing.Table(), err)
	}
	if w.seen != nil {
		if err := w.seen.add(ctx, w.keys); err != nil {
			return err
		}
		w.keys = w.keys[:0]
	}
	w.ts.res.Upserted += uint64(n)
	w.ts.opts.Progress.Rows(w.ts.opts.Environment, w.ts.entity.LogicalName, n)
	return nil
}

func (w *batchWriter) abort() {
	if w.batch != nil {
		w.batch.Abort()
		w.batch = nil
	}
}

// tombstone writes deletes: each stored key gets a row with _deleted = 1
// and a version above its newest. Keys the warehouse never held (created
// and deleted between two syncs) need nothing.
func (ts *tableSync) tombstone(ctx context.Context, deleted []dataverse.Deleted) error {
	ids := make([]string, 0, len(deleted))
	for _, d := range deleted {
		id, err := uuid.Parse(d.ID)
		if err != nil {
			return fmt.Errorf("%s: deleted entity id %q is not a GUID", ts.entity.EntitySetName, d.ID)
		}
		ids = append(ids, "'"+id.String()+"'")
	}
	key := warehouse.QuoteIdentifier(ts.landing.Key)
	q := fmt.Sprintf("SELECT %s, max(_version) FROM %s WHERE _environment = ? AND %s IN (%s) GROUP BY %s",
		key, warehouse.QuoteIdentifier(ts.landing.Table()), key, strings.Join(ids, ","), key)
	rows, err := ts.opts.Store.Query(ctx, q, ts.opts.Environment)
	if err != nil {
		return fmt.Errorf("find deleted %s rows: %w", ts.entity.LogicalName, err)
	}
	type stone struct {
		id      uuid.UUID
		version uint64
	}
	var stones []stone
	for rows.Next() {
		var s stone
		if err := rows.Scan(&s.id, &s.version); err != nil {
			rows.Close()
			return err
		}
		stones = append(stones, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(stones) == 0 {
		return nil
	}
	b, err := ts.opts.Store.PrepareInsert(ctx, ts.landing.Table(), []string{ts.landing.Key, "_environment", "_version", "_deleted", "_synced_at"})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, s := range stones {
		if err := b.Append(s.id, ts.opts.Environment, s.version+1, uint8(1), now); err != nil {
			b.Abort()
			return err
		}
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("write tombstones to %s: %w", ts.landing.Table(), err)
	}
	ts.res.Deleted += uint64(len(stones))
	ts.opts.Progress.Rows(ts.opts.Environment, ts.entity.LogicalName, len(stones))
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
