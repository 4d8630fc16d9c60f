package connector_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// trackedTables are the default tables the simulator tracks changes of:
// those that read by delta link once loaded.
func trackedTables(sim *dvsim.Server) []connector.Table {
	on := sim.ChangeTracking()
	var out []connector.Table
	for _, t := range tableList() {
		if on[t.Name] {
			out = append(out, t)
		}
	}
	return out
}

func isDeltaRequest(req *http.Request) bool { return strings.Contains(req.URL.RawQuery, "deltatoken") }

// TestOneShotDeltaOneRoundTrip: in a one-shot sync (a new Runner, warm
// metadata cache) of tables in mode delta, every table's delta request is
// in flight together with the metadata version check, so the run waits
// one round trip before it writes; the answers are held until the
// metadata is known, and used: each table sends one request, the views
// equal the source after a mutate, and the next links are saved in one
// INSERT. activitypointer has change tracking in the simulator: its own
// delta removes the deleted activities, none are passed on. On both
// engines.
func TestOneShotDeltaOneRoundTrip(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 91, Scale: 150})
			tables := trackedTables(sim)
			require.GreaterOrEqual(t, len(tables), 5)
			ctx := context.Background()
			_, err := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{simEnvironment("prod", sim)}}).
				Sync(ctx, connector.Request{Tables: tables})
			require.NoError(t, err)
			sim.Mutate(20, 20, 10)

			env := simEnvironment("prod", sim)
			// the metadata version check and every delta in flight at once
			env.Client.HTTPClient = &http.Client{Transport: newTogether(sim.Client().Transport, len(tables)+1, func(req *http.Request) bool {
				return isDeltaRequest(req) || strings.Contains(req.URL.Path, "/EntityDefinitions")
			})}
			// a bound, should the requests wait for each other for ever
			tctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			seq := scalar(t, st, "SELECT max(seq) FROM sync_state")
			before := sim.Stats()
			res, err := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{env}}).
				Sync(tctx, connector.Request{Tables: tables})
			require.NoError(t, err)
			after := sim.Stats()
			require.Equal(t, uint64(len(tables)), scalar(t, st, fmt.Sprintf("SELECT count() FROM sync_state WHERE seq > %d", seq)))
			require.Equal(t, uint64(1), scalar(t, st, fmt.Sprintf("SELECT uniqExact(seq) FROM sync_state WHERE seq > %d", seq)),
				"the deltas' next links are saved in one INSERT")
			require.Len(t, res, len(tables))
			changed := 0
			for _, x := range res {
				require.Equal(t, connector.StatusOK, x.Status, "%s: %v", x.Table, x.Err)
				require.Equal(t, connector.ModeDelta, x.Mode, x.Table)
				require.Equal(t, uint32(1), x.Requests, "%s: the early delta request is the table's one request", x.Table)
				if x.Upserted+x.Deleted > 0 {
					changed++
				}
				require.NotContains(t, x.Note, "passed on", "%s: activitypointer's own delta has the deletes", x.Table)
			}
			require.Positive(t, changed, "the mutate changed tables")
			require.Equal(t, int64(len(tables)), after.ByKind["delta"]-before.ByKind["delta"], "one delta request per table")
			requireViewsEqualSim(t, st, sim, tables, "prod", "one-shot delta with early reads")
		})
	}
}

// TestEarlyDeltaDiscarded: the metadata changed in ways that change how
// two tables are read — a column added to lead (a reload fills it) and
// change tracking turned off for contact (read by modifiedon) — after
// their delta requests went out early: the held answers are discarded,
// both tables sync right, and the tables the change does not touch use
// their early answer (one request each).
func TestEarlyDeltaDiscarded(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 92, Scale: 150})
			tables := trackedTables(sim)
			oneShot := func() map[string]connector.TableResult {
				t.Helper()
				res, err := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{simEnvironment("prod", sim)}}).
					Sync(ctx, connector.Request{Tables: tables})
				require.NoError(t, err)
				return byTable(res)
			}
			oneShot()
			sim.Mutate(20, 20, 10)
			require.NoError(t, sim.AddColumn("lead", "new_heat", "Integer"))
			require.NoError(t, sim.SetChangeTracking("contact", false))
			before := sim.Stats()
			res := oneShot()
			after := sim.Stats()
			require.Equal(t, int64(len(tables)), after.ByKind["delta"]-before.ByKind["delta"],
				"every table in mode delta sent its delta request early, and none was sent again")

			lead := res["lead"]
			require.Equal(t, connector.ModeReload, lead.Mode)
			require.Contains(t, lead.Note, "columns changed")
			require.Greater(t, lead.Requests, uint32(1), "the discarded delta request and the reload's")
			contact := res["contact"]
			require.Equal(t, connector.ModeFull, contact.Mode, "read by modifiedon in full: %s", contact.Note)
			require.Contains(t, contact.Note, "change tracking is off")
			for name, x := range res {
				require.Equal(t, connector.StatusOK, x.Status, "%s: %v", name, x.Err)
				if name != "lead" && name != "contact" {
					require.Equal(t, connector.ModeDelta, x.Mode, name)
					require.Equal(t, uint32(1), x.Requests, "%s: the early answer is used", name)
				}
			}
			cols, err := warehouse.ReadCatalog(ctx, st, "lead")
			require.NoError(t, err)
			found := false
			for _, c := range cols["lead"] {
				found = found || c.Name == "new_heat"
			}
			require.True(t, found, "the new column is in the view")
			requireViewsEqualSim(t, st, sim, tables, "prod", "after a metadata change that discarded early answers")

			// and the sync after reads lead by delta again, early
			sim.Mutate(5, 5, 5)
			res = oneShot()
			require.Equal(t, connector.ModeDelta, res["lead"].Mode)
			require.Equal(t, uint32(1), res["lead"].Requests)
			requireViewsEqualSim(t, st, sim, tables, "prod", "the next one-shot")
		})
	}
}

// refuseAfterDeltas lets the WhoAmI request go only once n delta answers
// came back, and has the simulator refuse the application user (as
// Dataverse does for an app without an application user) just before:
// the deltas were answered with the changes, WhoAmI is refused.
type refuseAfterDeltas struct {
	base     http.RoundTripper
	sim      *dvsim.Server
	n        int32
	answered atomic.Int32
	all      chan struct{}
}

func (r *refuseAfterDeltas) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/WhoAmI") {
		select {
		case <-r.all:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		f := r.sim.Faults()
		f.NoAppUser = true
		r.sim.SetFaults(f)
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil && isDeltaRequest(req) && resp.StatusCode == http.StatusOK && r.answered.Add(1) == r.n {
		close(r.all)
	}
	return resp, err
}

// TestEarlyDeltaCheckRefused: WhoAmI is refused after the early delta
// requests were answered with changes: no table starts, nothing is
// written to the landing tables or sync_state, and sync_runs holds a
// failed row per table. On both engines.
func TestEarlyDeltaCheckRefused(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 93, Scale: 150})
			tables := trackedTables(sim)
			_, err := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{simEnvironment("prod", sim)}}).
				Sync(ctx, connector.Request{Tables: tables})
			require.NoError(t, err)
			sim.Mutate(20, 20, 10)
			written := func() string {
				t.Helper()
				var parts []string
				for _, tb := range tables {
					parts = append(parts, fmt.Sprintf("%s %d", tb.Name, scalar(t, st, "SELECT count() FROM "+landing.TableName(tb.Name))))
				}
				// the newest save, not count(): merges of sync_state
				// (a ReplacingMergeTree) lower its row count any time
				parts = append(parts, fmt.Sprintf("sync_state seq %d", scalar(t, st, "SELECT max(seq) FROM sync_state")))
				return strings.Join(parts, ", ")
			}
			was := written()

			env := simEnvironment("prod", sim)
			env.Client.HTTPClient = &http.Client{Transport: &refuseAfterDeltas{base: sim.Client().Transport, sim: sim,
				n: int32(len(tables)), all: make(chan struct{})}}
			tctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			before := sim.Stats()
			res, err := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{env}}).
				Sync(tctx, connector.Request{Tables: tables})
			require.Error(t, err)
			require.Contains(t, err.Error(), "application user")
			require.Equal(t, int64(len(tables)), sim.Stats().ByKind["delta"]-before.ByKind["delta"], "the delta requests went out early")
			require.Len(t, res, len(tables))
			for _, x := range res {
				require.Equal(t, connector.StatusFailed, x.Status, x.Table)
				require.Zero(t, x.Upserted+x.Deleted, x.Table)
			}
			require.Equal(t, was, written(), "nothing written")
			for table, r := range runRows(t, st, res[0].RunID) {
				require.Equal(t, "failed", r.status, table)
			}
		})
	}
}

// scalar runs a query with one UInt64 answer.
func scalar(t *testing.T, st warehouse.Store, query string) uint64 {
	t.Helper()
	rows, err := st.Query(context.Background(), query)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), query)
	var n uint64
	require.NoError(t, rows.Scan(&n))
	require.NoError(t, rows.Err())
	return n
}
