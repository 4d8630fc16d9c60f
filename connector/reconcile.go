package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
)

// Key reconciliation finds the deletes of a table without change tracking,
// which its modifiedon watermark cannot show: it reads every primary key
// the source has ($select=<key>, pages of keys only, through the same
// paging, retries and throttling as every read) and tombstones the live
// records the warehouse holds that the source no longer has.
//
// Only records stored before the key read began are checked: the newest
// _version of the landing table is read first, and a record whose newest
// version is above it (a row written meanwhile, by this or another sync)
// is left alone, since the key read may have passed its key before it was
// created. Tombstones are written only once the key read is complete: a
// read stopped by an error or a cancellation writes none, and a rerun
// starts over. The tombstone statement checks again that the record is
// live and not newer (landing.Table.TombstoneKeys).
//
// When it runs is ReconcilePolicy's: by default after every sync of a
// table under a million keys, once a day above. The last reconciliation
// of each table is kept in sync_reconcile (sql/schema/0010_sync_reconcile.sql).
// A full load of such a table counts as one: it tombstones what it did not
// see by generation (tableSync.reconcile).

// Defaults of ReconcilePolicy.
const (
	// DefaultReconcileLargeKeys: tables with at least this many keys are
	// reconciled every DefaultReconcileLargeEvery, smaller ones every sync.
	DefaultReconcileLargeKeys = 1_000_000
	// DefaultReconcileLargeEvery is how often a large table is reconciled.
	DefaultReconcileLargeEvery = 24 * time.Hour
)

// ReconcilePolicy says how often tables without change tracking have their
// keys reconciled to find deletes. The zero value is the default: every
// sync under DefaultReconcileLargeKeys keys, daily above.
type ReconcilePolicy struct {
	// Every is the least time between two reconciliations of a table with
	// fewer than LargeKeys keys; 0 reconciles on every sync.
	Every time.Duration
	// LargeKeys is the number of keys (as the table's last reconciliation
	// or full load counted them) from which LargeEvery applies. Default
	// DefaultReconcileLargeKeys.
	LargeKeys uint64
	// LargeEvery is the least time between two reconciliations of a large
	// table. Default DefaultReconcileLargeEvery.
	LargeEvery time.Duration
}

func (p ReconcilePolicy) withDefaults() ReconcilePolicy {
	if p.LargeKeys == 0 {
		p.LargeKeys = DefaultReconcileLargeKeys
	}
	if p.LargeEvery <= 0 {
		p.LargeEvery = DefaultReconcileLargeEvery
	}
	return p
}

// interval is how often a table of keys keys is reconciled.
func (p ReconcilePolicy) interval(keys uint64) time.Duration {
	if keys >= p.LargeKeys {
		return p.LargeEvery
	}
	return p.Every
}

// reconciled is the last key reconciliation of a table.
type reconciled struct {
	At         time.Time
	SourceKeys uint64
}

// lastReconciled reads the table's last reconciliation; ok is false when
// it never had one.
func lastReconciled(ctx context.Context, s warehouse.Store, env, table string) (r reconciled, ok bool, err error) {
	rows, err := s.Query(ctx, "SELECT reconciled_at, source_keys FROM sync_reconcile FINAL WHERE environment = ? AND table_name = ?", env, table)
	if err != nil {
		return r, false, fmt.Errorf("read the last key reconciliation of %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&r.At, &r.SourceKeys); err != nil {
			return r, false, fmt.Errorf("read the last key reconciliation of %s: %w", table, err)
		}
		ok = true
	}
	if err := rows.Err(); err != nil {
		return r, false, fmt.Errorf("read the last key reconciliation of %s: %w", table, err)
	}
	return r, ok, nil
}

// recordReconciled saves a reconciliation of the table that began at at.
func recordReconciled(ctx context.Context, s warehouse.Store, env, table string, at time.Time, sourceKeys, tombstoned uint64) error {
	b, err := s.PrepareInsert(ctx, "sync_reconcile", []string{"environment", "table_name", "reconciled_at", "source_keys", "tombstoned", "seq"})
	if err == nil {
		if err = b.Append(env, table, at.UTC(), sourceKeys, tombstoned, uint64(time.Now().UnixNano())); err == nil {
			err = b.Send(ctx)
		} else {
			b.Abort()
		}
	}
	if err != nil {
		return fmt.Errorf("record the key reconciliation of %s: %w", table, err)
	}
	return nil
}

// untrackedNote is the sync_runs note of a table without change tracking.
const untrackedNote = "change tracking is off for this table"

// maybeReconcileKeys reconciles the table's keys after a watermark
// increment when the policy says it is due, and says in the run's note
// what was reconciled or when it will be.
func (ts *tableSync) maybeReconcileKeys(ctx context.Context) error {
	pol := ts.opts.Reconcile.withDefaults()
	last, ok, err := lastReconciled(ctx, ts.opts.Store, ts.opts.Environment, ts.entity.LogicalName)
	if err != nil {
		return err
	}
	if ok {
		every := pol.interval(last.SourceKeys)
		if next := last.At.Add(every); time.Now().Before(next) {
			ts.res.Note = fmt.Sprintf("%s: deletes are found by reading its keys every %s; next after %s",
				untrackedNote, every, next.UTC().Format("2006-01-02 15:04 UTC"))
			return nil
		}
	}
	return ts.reconcileKeys(ctx)
}

// reconcileKeys reads every key of the table from the source and
// tombstones the live records stored before the read began that the
// source no longer has.
func (ts *tableSync) reconcileKeys(ctx context.Context) error {
	s, env, table := ts.opts.Store, ts.opts.Environment, ts.entity.LogicalName
	upTo, _, err := ts.landing.Newest(ctx, s, env)
	if err != nil {
		return fmt.Errorf("reconcile the keys of %s: %w", table, err)
	}
	began := time.Now().UTC()
	keys, err := ts.readKeys(ctx)
	if err != nil {
		return fmt.Errorf("reconcile the keys of %s: read the source's keys: %w", table, err)
	}
	var gone []uuid.UUID
	err = ts.landing.LiveKeys(ctx, s, env, upTo, func(key uuid.UUID, _ uint64) error {
		if _, found := slices.BinarySearchFunc(keys, key, compareUUID); !found {
			gone = append(gone, key)
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("reconcile the keys of %s: read the warehouse's keys: %w", table, err)
	}
	if len(gone) > 0 {
		// the key read is complete: every key missing from it is gone
		// from the source, so the tombstones are written to the end
		wctx := context.WithoutCancel(ctx)
		if err := ts.landing.TombstoneKeys(wctx, s, env, upTo, gone); err != nil {
			return fmt.Errorf("reconcile the keys of %s: tombstone the deleted: %w", table, err)
		}
		ts.log.Info("rows deleted in the source, found by reading its keys", "rows", len(gone))
	}
	ts.res.Deleted += uint64(len(gone))
	ts.res.Note = fmt.Sprintf("%s: deletes found by reading its keys (%d keys, %d deleted)", untrackedNote, len(keys), len(gone))
	return recordReconciled(context.WithoutCancel(ctx), s, env, table, began, uint64(len(keys)), uint64(len(gone)))
}

// readKeys reads every primary key of the table, sorted. A large table's
// keys are read in createdon ranges at once, as its first load is
// (ranges.go): the ranges together hold every row.
func (ts *tableSync) readKeys(ctx context.Context) ([]uuid.UUID, error) {
	filters := []string{""}
	if n := ts.rangeCount(ts.estimate(ctx), ts.mapping.Select()); n > 1 {
		lo, hi, err := ts.createdBounds(ctx)
		if err != nil {
			return nil, err
		}
		filters = rangeFilters(lo, hi, n)
	}
	parts := make([][]uuid.UUID, len(filters))
	errs := make([]error, len(filters))
	var wg sync.WaitGroup
	for i, f := range filters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i], errs[i] = ts.readKeyRange(ctx, f)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keys := slices.Concat(parts...)
	slices.SortFunc(keys, compareUUID)
	return keys, nil
}

// readKeyRange reads the primary keys of the rows filter selects ("": all).
func (ts *tableSync) readKeyRange(ctx context.Context, filter string) ([]uuid.UUID, error) {
	pk := ts.entity.PrimaryIDAttribute
	r := ts.opts.Client.Read(ctx, dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: []string{pk}, Filter: filter})
	defer r.Close()
	var keys []uuid.UUID
	for {
		page, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		hint := -1
		for i := range page.Records {
			var f *dataverse.Field
			f, hint = page.Records[i].FieldAt(pk, hint)
			if f == nil {
				return nil, fmt.Errorf("a row of %s has no %s", ts.entity.EntitySetName, pk)
			}
			id, err := uuid.Parse(f.Value.Text)
			if err != nil {
				return nil, fmt.Errorf("%s %q of %s is not a GUID", pk, f.Value.Text, ts.entity.EntitySetName)
			}
			keys = append(keys, id)
		}
		page.Release()
	}
	return keys, ctx.Err()
}

func compareUUID(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// isActivity reports whether the table is an activity type (phonecall,
// email, task, appointment, custom activities): its rows are also rows of
// activitypointer under the same activityid.
func isActivity(e *dataverse.Entity) bool {
	return e.PrimaryIDAttribute == "activityid" && e.LogicalName != activityPointer
}

const activityPointer = "activitypointer"

// tombstoneActivities tombstones in activitypointer the activities this
// delta of an activity table saw deleted, when activitypointer is synced
// and its landing table existed when the run began: activitypointer has no
// change tracking in Dataverse, and its key reconciliation may be a day
// away. Where activitypointer does have change tracking (the run's
// metadata says so), its own sync sees the deletes — its delta reports
// them, a load's generation leaves them out — and nothing is passed on:
// the INSERT … SELECT over activitypointer per activity table would only
// repeat its tombstones.
func (ts *tableSync) tombstoneActivities(ctx context.Context, cat warehouse.Catalog) error {
	if len(ts.activityDeletes) == 0 {
		return nil
	}
	if md := ts.shared.meta; md != nil {
		if ap := md.Entities[activityPointer]; ap != nil && ap.ChangeTrackingEnabled {
			return nil
		}
	}
	synced := slices.ContainsFunc(ts.opts.Tables, func(t Table) bool { return t.Name == activityPointer })
	if _, exists := cat[landing.TableName(activityPointer)]; !synced || !exists {
		return nil
	}
	ap := landing.Table{Name: activityPointer, Key: "activityid"}
	if err := ap.TombstoneKeys(context.WithoutCancel(ctx), ts.opts.Store, ts.opts.Environment, ^uint64(0), ts.activityDeletes); err != nil {
		return fmt.Errorf("tombstone the deleted %s rows in %s: %w", ts.entity.LogicalName, activityPointer, err)
	}
	ts.log.Info("deleted activities tombstoned in activitypointer", "rows", len(ts.activityDeletes))
	if ts.res.Note != "" {
		ts.res.Note += "; "
	}
	ts.res.Note += fmt.Sprintf("deletes passed on to %s: %d", activityPointer, len(ts.activityDeletes))
	return nil
}
