package connector_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// runNote reads the sync_runs note of one table in one run.
func runNote(t *testing.T, st warehouse.Store, runID, table string) string {
	t.Helper()
	rows, err := st.Query(context.Background(), "SELECT note FROM sync_runs WHERE run_id = ? AND table_name = ?", runID, table)
	require.NoError(t, err)
	defer rows.Close()
	note := ""
	for rows.Next() {
		require.NoError(t, rows.Scan(&note))
	}
	require.NoError(t, rows.Err())
	return note
}

// byTable indexes results by table.
func byTable(res []connector.TableResult) map[string]connector.TableResult {
	out := map[string]connector.TableResult{}
	for _, r := range res {
		out[r.Table] = r
	}
	return out
}

// cancelOnKeyPage is a transport that cancels the sync when the key read
// of a table (a $select of the key alone) asks for its second page: a
// SIGTERM in the middle of a key reconciliation.
type cancelOnKeyPage struct {
	base     http.RoundTripper
	set, key string
	cancel   context.CancelFunc
	hit      atomic.Bool
}

func (c *cancelOnKeyPage) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if strings.HasSuffix(req.URL.Path, "/"+c.set) && q.Get("$select") == c.key && q.Get("$skiptoken") != "" {
		c.hit.Store(true)
		c.cancel()
	}
	return c.base.RoundTrip(req)
}

// TestSyncReconcilesKeys: tables without change tracking (lead, and
// activitypointer as in Dataverse) see deletes by key reconciliation, the
// deletes of a change-tracked activity table reach activitypointer between
// two reconciliations, and a reconciliation stopped part way tombstones
// nothing: every view equals the source after the rerun.
func TestSyncReconcilesKeys(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 83, Scale: 300, Faults: dvsim.Faults{NoChangeTracking: []string{"lead", "activitypointer"}}})
			client := pagedClient(t, sim, 40)
			tables := []connector.Table{{Name: "lead"}, {Name: "activitypointer"}, {Name: "task"}}
			keys := map[string]string{"lead": "leadid", "activitypointer": "activityid", "task": "activityid"}
			run := 0
			sync := func(c *dataverse.Client, pol connector.ReconcilePolicy, ctx context.Context, tables ...connector.Table) (string, map[string]connector.TableResult, error) {
				run++
				id := fmt.Sprintf("reconcile-%d", run)
				res, err := connector.Sync(ctx, connector.Options{Store: st, Client: c, Environment: "prod", Tables: tables, RunID: id, Reconcile: pol})
				return id, byTable(res), err
			}
			equal := func(stage string, names ...string) {
				for _, n := range names {
					requireViewEqual(t, st, sim, n, keys[n], "prod", stage)
				}
			}

			_, res, err := sync(client, connector.ReconcilePolicy{}, ctx, tables...)
			require.NoError(t, err)
			require.Equal(t, "change tracking is off for this table: deletes are found by reading its keys; this full load read them all", res["lead"].Note)
			equal("first load", "lead", "activitypointer", "task")

			// deletes of leads (and, with them, of their activities): the
			// default policy reconciles these small tables on every sync
			before := viewVersions(t, st, "lead", "leadid", "prod")
			lead := fmt.Sprint(sim.Records("lead")[0]["leadid"])
			_, err = sim.Delete("lead", lead)
			require.NoError(t, err)
			sim.Mutate(5, 5, 12)
			source := map[string]bool{}
			for _, r := range sim.Records("lead") {
				source[fmt.Sprint(r["leadid"])] = true
			}
			gone := 0
			for id := range before {
				if !source[id] {
					gone++
				}
			}
			require.GreaterOrEqual(t, gone, 2, "leads deleted in the source")
			runID, res, err := sync(client, connector.ReconcilePolicy{}, ctx, tables...)
			require.NoError(t, err)
			require.Equal(t, connector.ModeWatermark, res["lead"].Mode)
			want := fmt.Sprintf("change tracking is off for this table: deletes found by reading its keys (%d keys, %d deleted)", len(source), gone)
			require.Equal(t, want, res["lead"].Note)
			require.Equal(t, want, runNote(t, st, runID, "lead"), "sync_runs says what was reconciled")
			require.EqualValues(t, gone, res["lead"].Deleted)
			require.NotContains(t, runNote(t, st, runID, "activitypointer"), "cannot be seen")
			equal("after deletes", "lead", "activitypointer", "task")

			// a task deleted while activitypointer's reconciliation is not
			// due: the task table's delta passes the delete on
			task := fmt.Sprint(sim.Records("task")[0]["activityid"])
			_, err = sim.Delete("task", task)
			require.NoError(t, err)
			hourly := connector.ReconcilePolicy{Every: time.Hour}
			_, res, err = sync(client, hourly, ctx, tables...)
			require.NoError(t, err)
			require.Zero(t, res["activitypointer"].Deleted, "activitypointer was not reconciled")
			require.Contains(t, res["activitypointer"].Note, "change tracking is off for this table: deletes are found by reading its keys every 1h0m0s; next after ")
			require.Equal(t, "deletes passed on to activitypointer: 1", res["task"].Note)
			require.EqualValues(t, 1, res["task"].Deleted)
			equal("after a task was deleted", "activitypointer", "task")

			// a reconciliation stopped in the middle of its key read
			// tombstones nothing; the rerun finds the deletes
			sim.Mutate(0, 0, 12)
			before = viewVersions(t, st, "lead", "leadid", "prod")
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			hook := &cancelOnKeyPage{base: sim.Client().Transport, set: "leads", key: "leadid", cancel: cancel}
			killed, err := dataverse.New(ctx, dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
				ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: &http.Client{Transport: hook}, PageSize: 40})
			require.NoError(t, err)
			_, res, err = sync(killed, connector.ReconcilePolicy{}, cctx, connector.Table{Name: "lead"})
			require.Error(t, err)
			require.True(t, hook.hit.Load(), "the key read was stopped")
			require.Equal(t, connector.StatusCanceled, res["lead"].Status)
			require.Zero(t, res["lead"].Deleted)
			after := viewVersions(t, st, "lead", "leadid", "prod")
			require.Len(t, after, len(before), "a stopped reconciliation tombstones nothing")
			for _, r := range sim.Records("lead") {
				_, ok := after[fmt.Sprint(r["leadid"])]
				require.True(t, ok || before[fmt.Sprint(r["leadid"])] == 0, "live lead %v is in the view", r["leadid"])
			}
			_, res, err = sync(client, connector.ReconcilePolicy{}, ctx, connector.Table{Name: "lead"})
			require.NoError(t, err)
			require.Positive(t, res["lead"].Deleted)
			equal("rerun after a stopped reconciliation", "lead")
		})
	}
}

// BenchmarkReconcileKeys measures what key reconciliation adds to a
// watermark sync of a table without change tracking (lead, 100k rows; 5k
// with -short) after a few changes: the sync with its key read, beside
// the same sync without it (not due). ns/op is per sync; requests/op and
// keys/s are reported.
func BenchmarkReconcileKeys(b *testing.B) {
	scale := 100_000
	if testing.Short() {
		scale = 5_000
	}
	ctx := context.Background()
	sim, err := dvsim.Start(dvsim.Options{Seed: 3, Scale: scale, Faults: dvsim.Faults{NoChangeTracking: []string{"lead"}}})
	require.NoError(b, err)
	defer sim.Close()
	client := simClient(b, sim)
	st := openStore(b)
	tables := []connector.Table{{Name: "lead"}}
	_, err = connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: tables, RunID: "load"})
	require.NoError(b, err)
	for _, bc := range []struct {
		name string
		pol  connector.ReconcilePolicy
	}{
		{"without", connector.ReconcilePolicy{Every: 1000 * time.Hour}},
		{"with", connector.ReconcilePolicy{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var requests uint32
			keys := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				sim.Mutate(10, 10, 10)
				keys += len(sim.Records("lead"))
				b.StartTimer()
				res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: tables, RunID: "bench", Reconcile: bc.pol})
				require.NoError(b, err)
				requests += res[0].Requests
			}
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
			if bc.name == "with" {
				b.ReportMetric(float64(keys)/b.Elapsed().Seconds(), "keys/s")
			}
		})
	}
}

// onKeyPage is a transport that calls do once, when the key read of a
// table asks for its second page.
type onKeyPage struct {
	base     http.RoundTripper
	set, key string
	do       func()
	once     sync.Once
}

func (o *onKeyPage) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if strings.HasSuffix(req.URL.Path, "/"+o.set) && q.Get("$select") == o.key && q.Get("$skiptoken") != "" {
		o.once.Do(o.do)
	}
	return o.base.RoundTrip(req)
}

// TestReconcileLeavesRowsWrittenDuringTheKeyRead: a record another sync
// writes while the key read goes on (one the read may have passed) is not
// tombstoned by it, although the keys read lack it; the next
// reconciliation, which began after it was written, judges it.
func TestReconcileLeavesRowsWrittenDuringTheKeyRead(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 84, Scale: 200, Faults: dvsim.Faults{NoChangeTracking: []string{"lead"}}})
			tables := []connector.Table{{Name: "lead"}}
			_, err := connector.Sync(ctx, connector.Options{Store: st, Client: pagedClient(t, sim, 40), Environment: "prod", Tables: tables, RunID: "load"})
			require.NoError(t, err)

			// changes, so that the increment reads rows newer than the
			// load's newest (the generated rows' versions do not follow
			// their modifiedon)
			require.NotEmpty(t, sim.Mutate(20, 20, 0).Updated["lead"])
			// what a concurrent sync writes: a live lead with a version
			// above every stored one, and a key the source does not have
			late := uuid.New()
			var inserted error = errors.New("the key read did not reach its second page")
			hook := &onKeyPage{base: sim.Client().Transport, set: "leads", key: "leadid", do: func() {
				inserted = st.Exec(ctx, "INSERT INTO landing_lead (leadid, _environment, _version, _deleted, _synced_at) SELECT toUUID(?), 'prod', max(_version) + 1, 0, now() FROM landing_lead", late.String())
			}}
			c, err := dataverse.New(ctx, dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
				ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: &http.Client{Transport: hook}, PageSize: 40})
			require.NoError(t, err)
			res, err := connector.Sync(ctx, connector.Options{Store: st, Client: c, Environment: "prod", Tables: tables, RunID: "during"})
			require.NoError(t, err)
			require.NoError(t, inserted)
			require.Equal(t, connector.ModeWatermark, res[0].Mode)
			require.Zero(t, res[0].Deleted)
			require.Contains(t, viewVersions(t, st, "lead", "leadid", "prod"), late.String(), "written after the key read began: left alone")

			res, err = connector.Sync(ctx, connector.Options{Store: st, Client: pagedClient(t, sim, 40), Environment: "prod", Tables: tables, RunID: "after"})
			require.NoError(t, err)
			require.EqualValues(t, 1, res[0].Deleted)
			requireViewEqual(t, st, sim, "lead", "leadid", "prod", "the next reconciliation")
		})
	}
}
