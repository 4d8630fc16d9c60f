package connector_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// clusterStore opens database db on node of the test cluster, with
// warehouse.cluster set.
func clusterStore(t *testing.T, c *clustertest.Handle, node, db string) warehouse.Store {
	t.Helper()
	cfg := c.ClusterConfig(node, db)
	return warehousetest.Open(t, cfg)
}

// simKey is the primary key column of a simulated table's records.
func simKey(recs []map[string]any, table string) string {
	if len(recs) > 0 {
		if _, ok := recs[0][table+"id"]; ok {
			return table + "id"
		}
	}
	return "activityid"
}

// requireViewsEqualSim checks every current-state view read through st
// against the simulator's live records: the same keys, each with the
// source's versionnumber.
func requireViewsEqualSim(t *testing.T, st warehouse.Store, sim *dvsim.Server, tables []connector.Table, env, stage string) {
	t.Helper()
	for _, tb := range tables {
		recs := sim.Records(tb.Name)
		key := simKey(recs, tb.Name)
		want := make(map[string]uint64, len(recs))
		for _, r := range recs {
			v, err := r["versionnumber"].(interface{ Int64() (int64, error) }).Int64()
			require.NoError(t, err)
			want[fmt.Sprint(r[key])] = uint64(v)
		}
		require.Equal(t, want, viewVersions(t, st, tb.Name, key, env), "%s: view %s", stage, tb.Name)
	}
}

// localCount is the number of rows a landing table holds on the node st
// talks to (its shard's local table).
func localCount(t *testing.T, st warehouse.Store, table string) uint64 {
	t.Helper()
	return warehousetest.QueryOne(t, st, "SELECT count() FROM "+warehouse.QuoteIdentifier("landing_"+table+"_local")).(uint64)
}

// TestClusterSync syncs a simulated Dataverse (over HTTP/TLS) into the
// test cluster through node A: a full load lands rows on both shards and
// every current-state view, read through A and through C, equals the
// simulator's live records; replica B, stopped during a delta, catches up
// after its restart and its views are exact too; a delta after that is
// exact through every node.
func TestClusterSync(t *testing.T) {
	ctx := context.Background()
	c := clustertest.Cluster(t)
	db := warehousetest.UniqueName(t)
	a := clusterStore(t, c, "A", db)
	_, err := migrate.Up(ctx, a, ampelsql.Schema, migrate.Options{})
	require.NoError(t, err)
	cStore := clusterStore(t, c, "C", db)
	sim := startSim(t, dvsim.Options{Seed: 91, Scale: 300})
	tables := tableList()
	sync := func(run string, progress connector.Progress) {
		res, err := connector.Sync(ctx, connector.Options{Store: a, Client: simClient(t, sim), Environment: "prod", Tables: tables, RunID: run, Progress: progress})
		require.NoError(t, err)
		for _, r := range res {
			require.Equal(t, connector.StatusOK, r.Status, "%s: %v", r.Table, r.Err)
		}
	}

	sync("full", nil)
	requireViewsEqualSim(t, a, sim, tables, "prod", "full load, through A")
	requireViewsEqualSim(t, cStore, sim, tables, "prod", "full load, through C")
	onA, onC := localCount(t, a, "lead"), localCount(t, cStore, "lead")
	total := warehousetest.QueryOne(t, a, "SELECT count() FROM landing_lead").(uint64)
	require.NotZero(t, onA, "shard 01 holds leads")
	require.NotZero(t, onC, "shard 02 holds leads")
	require.Equal(t, total, onA+onC, "the Distributed table is its two shards")
	t.Logf("leads: %d on shard 01 (%.1f %%), %d on shard 02", onA, 100*float64(onA)/float64(total), onC)

	// a delta during which replica B stops once 20 rows are in: the rows
	// of shard 01 then go to A alone, and B takes them from A when it is
	// back. (No DDL runs in it: DDL ON CLUSTER waits for every node, see
	// README "Running on a cluster".)
	sim.Mutate(150, 150, 60)
	stopB := &onRows{rows: 20, do: func() { c.Stop(t, "B") }}
	sync("delta-b-down", stopB)
	require.True(t, stopB.done, "B was stopped during the sync")
	requireViewsEqualSim(t, a, sim, tables, "prod", "delta with B down, through A")
	requireViewsEqualSim(t, cStore, sim, tables, "prod", "delta with B down, through C")

	c.Start(t, "B")
	b := clusterStore(t, c, "B", db)
	deadline := time.Now().Add(2 * time.Minute)
	for _, tb := range tables {
		q := "SELECT count() FROM " + warehouse.QuoteIdentifier("landing_"+tb.Name+"_local")
		want := warehousetest.QueryOne(t, a, q)
		for got := warehousetest.QueryOne(t, b, q); got != want; got = warehousetest.QueryOne(t, b, q) {
			require.True(t, time.Now().Before(deadline), "B holds %v rows of %s after 2 minutes, A %v", got, tb.Name, want)
			time.Sleep(100 * time.Millisecond) // replication has no event to wait on from here
		}
	}
	// B reads shard 01 from its own replica (prefer_localhost_replica), so
	// its views show what B holds
	requireViewsEqualSim(t, b, sim, tables, "prod", "B caught up, through B")

	sim.Mutate(40, 40, 40)
	sync("delta", nil)
	requireViewsEqualSim(t, a, sim, tables, "prod", "delta, through A")
	requireViewsEqualSim(t, cStore, sim, tables, "prod", "delta, through C")
	requireViewsEqualSim(t, b, sim, tables, "prod", "delta, through B")

	// a column the source added reaches the local table of every shard and
	// the Distributed table in front of them (ALTER … ON CLUSTER)
	require.NoError(t, sim.AddColumn("lead", "new_clusternote", "String"))
	sync("new-column", nil)
	requireViewsEqualSim(t, cStore, sim, tables, "prod", "new column, through C")
	for _, st := range []warehouse.Store{a, b, cStore} {
		for _, table := range []string{"landing_lead_local", "landing_lead", "lead"} {
			n := warehousetest.QueryOne(t, st, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = 'new_clusternote'", table)
			require.EqualValues(t, 1, n, "%s has the new column", table)
		}
	}
	filled := warehousetest.QueryOne(t, cStore, "SELECT countIf(new_clusternote != '') FROM lead").(uint64)
	require.NotZero(t, filled, "the new column's values came with the sync")
}

// onRows is a Progress that calls do once, when rows rows of table (any
// table when "") are in the warehouse.
type onRows struct {
	table string
	rows  int
	do    func()
	seen  int
	done  bool
	mu    sync.Mutex
}

func (o *onRows) TableStarted(string, string, string, int64) {}
func (o *onRows) TableDone(connector.TableResult)            {}
func (o *onRows) Rows(_, table string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.table != "" && table != o.table || o.done {
		return
	}
	if o.seen += n; o.seen >= o.rows {
		o.done = true
		o.do()
	}
}

// BenchmarkClusterSync measures a full sync of the lead table (100k leads;
// 5k with -short) into the 2-shard test cluster beside the same sync into
// node A alone (a database without warehouse.cluster), in the same run:
// three rounds, the order alternating (cluster first, then single first),
// each sync into a fresh migrated database. It reports the median rows/s
// of each, their ratio, and the share of the leads on shard 01. Run it
// under the cluster: deploy/with-test-cluster.sh go test -run '^$'
// -bench BenchmarkClusterSync ./connector/.
func BenchmarkClusterSync(b *testing.B) {
	scale := 100_000
	if testing.Short() {
		scale = 5_000
	}
	ctx := context.Background()
	c := clustertest.Cluster(b)
	sim, err := dvsim.Start(dvsim.Options{Seed: 1, Scale: scale})
	require.NoError(b, err)
	defer sim.Close()
	tables := []connector.Table{{Name: "lead"}}
	leads := len(sim.Records("lead")) // the planted duplicates come on top of scale

	run := func(cluster bool) (rowsPerSec, share float64) {
		cfg := c.Config("A", warehousetest.UniqueName(b))
		if cluster {
			cfg.Cluster = c.Name
		}
		st := warehousetest.Open(b, cfg)
		_, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{})
		require.NoError(b, err)
		settle(b, st)
		start := time.Now()
		res, err := connector.Sync(ctx, connector.Options{Store: st, Client: simClient(b, sim), Environment: "bench", Tables: tables, RunID: "full"})
		require.NoError(b, err)
		took := time.Since(start)
		require.Len(b, res, 1)
		require.EqualValues(b, leads, res[0].Upserted)
		if cluster {
			total := warehousetest.QueryOne(b, st, "SELECT count() FROM landing_lead").(uint64)
			share = float64(warehousetest.QueryOne(b, st, "SELECT count() FROM landing_lead_local").(uint64)) / float64(total)
		}
		return float64(res[0].Upserted) / took.Seconds(), share
	}
	for i := 0; i < b.N; i++ {
		var onCluster, single []float64
		var share float64
		for round := range 3 {
			for _, cluster := range []bool{round%2 == 0, round%2 != 0} {
				rate, s := run(cluster)
				if cluster {
					onCluster, share = append(onCluster, rate), s
				} else {
					single = append(single, rate)
				}
			}
		}
		slices.Sort(onCluster)
		slices.Sort(single)
		mc, ms := onCluster[len(onCluster)/2], single[len(single)/2]
		b.ReportMetric(mc, "cluster_rows/s")
		b.ReportMetric(ms, "single_rows/s")
		b.ReportMetric(mc/ms, "cluster/single")
		b.ReportMetric(100*share, "shard01_%")
		b.ReportMetric(float64(leads), "leads")
		b.Logf("rows/s cluster %v, single %v; leads on shard 01: %.1f %%, shard 02: %.1f %%", onCluster, single, 100*share, 100-100*share)
	}
}
