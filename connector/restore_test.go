package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// field writes a value from the warehouse (Go values) or from the
// simulator's records (JSON) in one form, so the two compare: numbers
// exactly, times as UTC seconds, GUIDs in lower case, booleans as 1/0.
func field(v any) string {
	switch x := v.(type) {
	case nil:
		return "<null>"
	case *string:
		if x == nil {
			return "<null>"
		}
		return field(*x)
	case string:
		switch {
		case isoTime.MatchString(x):
			t, err := time.Parse(time.RFC3339, x)
			if err == nil {
				return t.UTC().Format(time.DateTime)
			}
		case isoDate.MatchString(x):
			return x + " 00:00:00"
		}
		if u, err := uuid.Parse(x); err == nil && len(x) == 36 {
			return u.String()
		}
		return x
	case json.Number:
		if d, err := decimal.NewFromString(x.String()); err == nil {
			return d.String()
		}
		return x.String()
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		return x.UTC().Format(time.DateTime)
	case uuid.UUID:
		return x.String()
	case decimal.Decimal:
		return x.String()
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint, float32, float64:
		d, err := decimal.NewFromString(fmt.Sprint(x))
		if err == nil {
			return d.String()
		}
	}
	if p, ok := v.(interface{ String() string }); ok {
		return p.String()
	}
	return fmt.Sprint(v)
}

var (
	isoTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
	isoDate = regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)
)

// requireViewEqual checks that the current-state view of table holds
// exactly the simulator's live rows for env, field by field: every column
// the view shares with the source's records (a lookup x with _x_value).
// It returns the number of fields compared.
func requireViewEqual(t *testing.T, st warehouse.Store, sim *dvsim.Server, table, key, env, stage string) int {
	t.Helper()
	rows, err := st.Query(context.Background(), fmt.Sprintf("SELECT * FROM %s WHERE _environment = ?", warehouse.QuoteIdentifier(table)), env)
	require.NoError(t, err)
	defer rows.Close()
	cols := rows.Columns()
	keyAt := -1
	for i, c := range cols {
		if c.Name == key {
			keyAt = i
		}
	}
	require.GreaterOrEqual(t, keyAt, 0, "%s: view %s has no %s", stage, table, key)
	got := map[string][]any{}
	for rows.Next() {
		vals := append([]any(nil), rows.Values()...)
		id := field(vals[keyAt])
		_, dup := got[id]
		require.False(t, dup, "%s: %s %s twice in the view", stage, table, id)
		got[id] = vals
	}
	require.NoError(t, rows.Err())
	recs := sim.Records(table)
	require.Equal(t, len(recs), len(got), "%s: %s rows", stage, table)
	compared := 0
	for _, r := range recs {
		id := field(r[key])
		vals, ok := got[id]
		require.True(t, ok, "%s: %s %s missing from the view", stage, table, id)
		for i, c := range cols {
			src, ok := r[c.Name]
			if !ok {
				src, ok = r["_"+c.Name+"_value"]
			}
			if !ok || strings.HasPrefix(c.Type, "Array") {
				continue
			}
			require.Equal(t, field(src), field(vals[i]), "%s: %s %s: %s", stage, table, id, c.Name)
			compared++
		}
	}
	return compared
}

// TestSyncRestoredEnvironment: the source is restored to an earlier state
// (rows back to older values with lower version numbers, deletes undone,
// creates gone) and then changes again, reusing version numbers. The next
// sync notes it in sync_runs and reloads, and every view equals the
// source field by field — also when the reload is stopped part way and
// goes on in the next sync, and when the changes after a restore reach
// version numbers above the stored ones before the sync sees them.
func TestSyncRestoredEnvironment(t *testing.T) {
	ctx := context.Background()
	tables := tableList()
	keys := map[string]string{}
	for _, tb := range tables {
		keys[tb.Name] = tb.Name + "id"
		if tb.Name == "activitypointer" || tb.Name == "phonecall" || tb.Name == "email" || tb.Name == "task" || tb.Name == "appointment" {
			keys[tb.Name] = "activityid"
		}
	}
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 71, Scale: 600})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			// pages of 100 rows, so that a load stopped part way has a
			// checkpoint to go on from
			client := pagedClient(t, sim, 100)
			sync := func(opts connector.Options) map[string]connector.TableResult {
				opts.Store, opts.Client, opts.Environment, opts.RunID = st, client, "prod", "t"
				if opts.Tables == nil {
					opts.Tables = tables
				}
				res, err := connector.Sync(ctx, opts)
				if opts.Progress == nil {
					require.NoError(t, err)
				}
				out := map[string]connector.TableResult{}
				for _, r := range res {
					out[r.Table] = r
				}
				return out
			}
			check := func(stage string) {
				fields := 0
				for _, tb := range tables {
					fields += requireViewEqual(t, st, sim, tb.Name, keys[tb.Name], "prod", stage)
				}
				require.Greater(t, fields, 1000, stage)
			}

			sync(connector.Options{})
			snap := sim.Snapshot()
			sim.Mutate(30, 60, 20)
			sync(connector.Options{})
			check("before the restore")

			// restored, then changed again: version numbers used before
			// now carry other values
			sim.Restore(snap, dvsim.RestoreOptions{})
			sim.Mutate(10, 40, 5)
			runs := sync(connector.Options{})
			check("after a restore")
			for _, tb := range tables {
				r := runs[tb.Name]
				require.Equal(t, connector.ModeReload, r.Mode, tb.Name)
				require.Contains(t, r.Note, "versions went backwards", tb.Name)
			}
			sim.Mutate(10, 10, 10)
			runs = sync(connector.Options{})
			check("a delta after the reload")
			require.Equal(t, connector.ModeDelta, runs["lead"].Mode)
			require.Empty(t, runs["lead"].Note)

			// restored again; the reload of leads is stopped part way and
			// goes on in the next sync
			snap2 := sim.Snapshot()
			sim.Mutate(20, 50, 10)
			sync(connector.Options{})
			sim.Restore(snap2, dvsim.RestoreOptions{})
			sim.Mutate(5, 20, 5)
			lead := []connector.Table{{Name: "lead"}}
			cctx, cancel := context.WithCancel(ctx)
			res, err := connector.Sync(cctx, connector.Options{Store: st, Client: client, Environment: "prod", RunID: "t", Tables: lead,
				BatchRows: 100, CheckpointEvery: time.Nanosecond, Progress: &cancelAfter{table: "lead", rows: 200, cancel: cancel}})
			cancel()
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, connector.StatusCanceled, res[0].Status)
			runs = sync(connector.Options{})
			require.Contains(t, runs["lead"].Note, "went on with the load interrupted before")
			check("after a stopped reload went on")
		})
	}
}

// TestSyncNoticesVersionsGoingBack: when the restored source keeps
// answering the old delta link (Dataverse's behaviour there is not
// documented), the link it returns has a lower version than the stored
// one; and a table without change tracking reads a newest versionnumber
// below the stored one. Each table is reloaded with a note, and the views
// equal the source field by field.
func TestSyncNoticesVersionsGoingBack(t *testing.T) {
	ctx := context.Background()
	tables := []connector.Table{{Name: "lead"}, {Name: "incident"}}
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 72, Scale: 300, Faults: dvsim.Faults{NoChangeTracking: []string{"incident"}}})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			client := simClient(t, sim)
			sync := func() map[string]connector.TableResult {
				res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", RunID: "t", Tables: tables})
				require.NoError(t, err)
				out := map[string]connector.TableResult{}
				for _, r := range res {
					out[r.Table] = r
				}
				return out
			}
			// incidents have no change tracking: their deletes are found by
			// key reconciliation
			check := func(stage string) {
				requireViewEqual(t, st, sim, "lead", "leadid", "prod", stage)
				requireViewEqual(t, st, sim, "incident", "incidentid", "prod", stage)
			}
			sync()
			snap := sim.Snapshot()
			sim.Mutate(30, 60, 20)
			runs := sync()
			require.Equal(t, connector.ModeWatermark, runs["incident"].Mode)
			check("before the restore")

			sim.Restore(snap, dvsim.RestoreOptions{KeepLinks: true})
			sim.Mutate(5, 10, 2)
			runs = sync()
			for _, tb := range tables {
				require.Equal(t, connector.ModeReload, runs[tb.Name].Mode, tb.Name)
				require.Contains(t, runs[tb.Name].Note, "the source's versions went backwards", tb.Name)
				require.Contains(t, runs[tb.Name].Note, "full reload", tb.Name)
			}
			check("after a restore that kept the links")
			sim.Mutate(5, 10, 4)
			runs = sync()
			require.Equal(t, connector.ModeDelta, runs["lead"].Mode)
			require.Equal(t, connector.ModeWatermark, runs["incident"].Mode)
			require.NotContains(t, runs["incident"].Note, "backwards")
			check("the syncs after")
		})
	}
}

// TestSyncWatermarkWithoutChanges: a second sync of tables without change
// tracking, with no change in the source, reads by watermark and does not
// take the source for restored: versionnumbers follow modifiedon, so the
// rows the watermark's overlap reads again carry the newest version the
// first sync saw. sync_runs says so; the views equal the source.
func TestSyncWatermarkWithoutChanges(t *testing.T) {
	ctx := context.Background()
	untracked := []string{"incident", "account", "activitypointer"}
	var tables []connector.Table
	for _, n := range untracked {
		tables = append(tables, connector.Table{Name: n})
	}
	keys := map[string]string{"incident": "incidentid", "account": "accountid", "activitypointer": "activityid"}
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 73, Scale: 300, Faults: dvsim.Faults{NoChangeTracking: untracked}})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			client := simClient(t, sim)
			for i, run := range []string{"first", "second"} {
				_, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", RunID: run, Tables: tables})
				require.NoError(t, err, run)
				for _, n := range untracked {
					rows, err := st.Query(ctx, "SELECT mode, note, status FROM sync_runs WHERE run_id = ? AND table_name = ?", run, n)
					require.NoError(t, err)
					var mode, note, status string
					found := 0
					for rows.Next() {
						require.NoError(t, rows.Scan(&mode, &note, &status))
						found++
					}
					require.NoError(t, rows.Err())
					rows.Close()
					require.Equal(t, 1, found, "%s run: %s rows in sync_runs", run, n)
					require.Equal(t, "ok", status, "%s run: %s", run, n)
					if i == 0 {
						require.Equal(t, connector.ModeFull, mode, "%s run: %s", run, n)
						continue
					}
					require.Equal(t, connector.ModeWatermark, mode, "%s run: %s: %s", run, n, note)
					require.NotContains(t, note, "backwards", "%s run: %s", run, n)
					require.NotContains(t, note, "reload", "%s run: %s", run, n)
				}
				for _, n := range untracked {
					requireViewEqual(t, st, sim, n, keys[n], "prod", run+" sync")
				}
			}
		})
	}
}
