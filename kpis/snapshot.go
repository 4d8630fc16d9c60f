package kpis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
)

// SnapshotPrefix starts the name of every run-scoped snapshot table:
// kpi_src_<8 hex digits of the run>_<view>.
const SnapshotPrefix = "kpi_src_"

// snapshots are the current-state views a run reads through snapshots:
// view name to snapshot table name.
type snapshots map[string]string

// takeSnapshots materialises, once per run, each current-state view that
// two or more of the rendered queries read, with only the columns those
// queries name (all of them when one selects *), into a Memory table; the
// queries then read it instead of the view (warehouse.ReplaceTables). A
// view's FINAL collapses versions at every read, so a catalog that reads
// lead in a dozen KPIs pays it a dozen times without this. A view whose
// snapshot fails is read directly, with a warning: the snapshot only
// saves time. The returned drop removes the tables; it runs even when ctx
// is cancelled.
func takeSnapshots(ctx context.Context, s warehouse.Store, queries []string, log *slog.Logger) (snapshots, func(), error) {
	type use struct {
		n    int
		all  bool
		cols map[string]bool
	}
	uses := map[string]*use{}
	for _, q := range queries {
		r, err := warehouse.StatementReads(q)
		if err != nil {
			continue // the query fails on its own, with the engine's message
		}
		for _, t := range r.Tables {
			u := uses[t]
			if u == nil {
				u = &use{cols: map[string]bool{}}
				uses[t] = u
			}
			u.n++
			u.all = u.all || r.All
			for n := range r.Names {
				u.cols[n] = true
			}
		}
	}
	var names []string
	for t, u := range uses {
		if u.n >= 2 {
			names = append(names, t, landing.TableName(t))
		}
	}
	snap := snapshots{}
	if len(names) == 0 {
		return snap, func() {}, nil
	}
	sort.Strings(names)
	cat, err := warehouse.ReadCatalog(ctx, s, names...)
	if err != nil {
		return nil, nil, fmt.Errorf("read the views to snapshot: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := SnapshotPrefix + hex.EncodeToString(b[:]) + "_"
	drop := func() {
		for _, name := range snap {
			if err := landing.DropSnapshot(context.WithoutCancel(ctx), s, name); err != nil {
				log.Warn("kpi snapshot not dropped", "table", name, "error", err)
			}
		}
	}
	for _, t := range names {
		u := uses[t]
		if u == nil || len(cat[t]) == 0 || len(cat[landing.TableName(t)]) == 0 {
			continue // a landing table, a table of another kind, or missing
		}
		var cols []string
		for _, c := range cat[t] {
			if u.all || u.cols[c.Name] || c.Name == landing.ColEnvironment {
				cols = append(cols, c.Name)
			}
		}
		name := prefix + t
		t0 := time.Now()
		if err := landing.Snapshot(ctx, s, t, name, cols); err != nil {
			if ctx.Err() != nil {
				drop()
				return nil, nil, ctx.Err()
			}
			log.Warn("kpi snapshot failed: the KPIs read the view", "view", t, "error", err)
			_ = landing.DropSnapshot(context.WithoutCancel(ctx), s, name)
			continue
		}
		snap[t] = name
		log.Debug("kpi snapshot", "view", t, "table", name, "columns", len(cols), "reads", u.n, "took", time.Since(t0).Round(time.Millisecond))
	}
	return snap, drop, nil
}

// SnapshotMaxAge is the age past which a run drops a snapshot table it
// finds left by another run: one that ended without dropping its own (the
// process was killed). No run takes that long.
const SnapshotMaxAge = 12 * time.Hour

// sweepSnapshots drops the snapshot tables older than SnapshotMaxAge. A
// left Memory table holds its rows in the server's memory until dropped.
func sweepSnapshots(ctx context.Context, s warehouse.Store, now time.Time, log *slog.Logger) error {
	rows, err := s.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, ?) AND metadata_modification_time < toDateTime(?, 'UTC')",
		SnapshotPrefix, now.Add(-SnapshotMaxAge).UTC().Format("2006-01-02 15:04:05"))
	if err != nil {
		return fmt.Errorf("list left snapshot tables: %w", err)
	}
	var left []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("list left snapshot tables: %w", err)
		}
		left = append(left, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list left snapshot tables: %w", err)
	}
	for _, n := range left {
		if err := landing.DropSnapshot(ctx, s, n); err != nil {
			return fmt.Errorf("drop the left snapshot table %s: %w", n, err)
		}
		log.Info("dropped a snapshot table a killed KPI run left", "table", n)
	}
	return nil
}

// bytes is how much memory the snapshots hold, as the engine reports it
// (system.tables.total_bytes); 0 where the engine does not (18.16).
func (sn snapshots) bytes(ctx context.Context, s warehouse.Store) (uint64, error) {
	if len(sn) == 0 || !s.Dialect().ModernSQL() {
		return 0, nil
	}
	var names []string
	for _, n := range sn {
		names = append(names, n)
	}
	rows, err := s.Query(ctx, "SELECT toUInt64(sum(ifNull(total_bytes, 0))) FROM system.tables WHERE database = currentDatabase() AND has(?, name)", names)
	if err != nil {
		return 0, fmt.Errorf("read the snapshots' size: %w", err)
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("read the snapshots' size: %w", err)
		}
	}
	return n, rows.Err()
}

// apply makes q read the snapshots instead of their views.
func (sn snapshots) apply(q string) string {
	if len(sn) == 0 {
		return q
	}
	out, err := warehouse.ReplaceTables(q, sn)
	if err != nil {
		return q // the engine reports what it cannot read
	}
	return out
}

// views lists the snapshotted views, sorted.
func (sn snapshots) views() []string {
	var out []string
	for v := range sn {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
