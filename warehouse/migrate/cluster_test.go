package migrate

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// clusterNodes returns store configs for nodes A, B and C of the test
// cluster (warehouse/clustertest), on the database db, with the cluster set.
func clusterNodes(t *testing.T, db string) []warehouse.Config {
	t.Helper()
	c := clustertest.Cluster(t)
	var out []warehouse.Config
	for _, n := range clustertest.Nodes {
		cfg := c.ClusterConfig(n, db)
		out = append(out, cfg)
	}
	return out
}

// TestClusterMigrate: migrations run from node A reach every node: the
// tables of sql/schema are replicated (one replica set over the cluster)
// and the record of applied migrations reads whole on node C; a second
// Up from another node and a second process finds nothing to do; two
// processes on two nodes at once apply each migration once.
func TestClusterMigrate(t *testing.T) {
	ctx := context.Background()
	if os.Getenv("AMPEL_TEST_MIGRATE_CHILD") != "" {
		return // run by TestClusterMigrateConcurrent's children only
	}
	db := warehousetest.UniqueName(t)
	nodes := clusterNodes(t, db)
	a := warehousetest.Open(t, nodes[0])
	last := warehousetest.Open(t, nodes[len(nodes)-1])
	ms, err := Load(ampelsql.Schema)
	require.NoError(t, err)
	done, err := Up(ctx, a, ampelsql.Schema, Options{})
	require.NoError(t, err)
	require.Len(t, done, len(ms))

	_, pending, err := Status(ctx, last, ampelsql.Schema)
	require.NoError(t, err)
	require.Empty(t, pending, "the record is replicated to the last node")
	again, err := Up(ctx, last, ampelsql.Schema, Options{})
	require.NoError(t, err)
	require.Empty(t, again)
	for _, st := range []warehouse.Store{a, last} {
		engines := map[string]string{}
		rows := warehousetest.QueryAll(t, st, "SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
		for _, r := range rows {
			engines[r[0].(string)] = r[1].(string)
		}
		require.Equal(t, "ReplicatedReplacingMergeTree", engines["sync_state"])
		require.Equal(t, "ReplicatedMergeTree", engines["sync_runs"])
		require.Equal(t, "ReplicatedReplacingMergeTree", engines["scheduler_leases"])
		require.Equal(t, "ReplicatedMergeTree", engines["schema_migrations"])
		require.Equal(t, "View", engines["lead_score"])
		require.NotContains(t, engines, "schema_migrations_lock", "the lock is gone on every node")
		cols := warehousetest.QueryAll(t, st, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'sync_state' AND name IN ('next_link', 'generation')")
		require.Len(t, cols, 2, "the ALTERs of 0002 and 0004 reached every replica")
	}
}

// TestClusterMigrateConcurrent starts two processes that migrate one new
// database at once, one through node A and one through the last node: the
// lock (a table created ON CLUSTER) lets one apply, and every migration is
// recorded once.
func TestClusterMigrateConcurrent(t *testing.T) {
	ctx := context.Background()
	if dsn := os.Getenv("AMPEL_TEST_MIGRATE_CHILD"); dsn != "" {
		st, err := warehouse.Open(ctx, warehouse.Config{Driver: "clickhouse", DSN: dsn,
			Database: os.Getenv("AMPEL_TEST_MIGRATE_DB"), Cluster: os.Getenv("AMPEL_TEST_CLUSTER_NAME")})
		require.NoError(t, err)
		defer st.Close()
		_, err = Up(ctx, st, ampelsql.Schema, Options{})
		require.NoError(t, err)
		return
	}
	db := warehousetest.UniqueName(t)
	nodes := clusterNodes(t, db)
	a := warehousetest.Open(t, nodes[0]) // creates the database on every node
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i, n := range []warehouse.Config{nodes[0], nodes[len(nodes)-1]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestClusterMigrateConcurrent$", "-test.count=1")
			cmd.Env = append(os.Environ(), "AMPEL_TEST_MIGRATE_CHILD="+n.DSN, "AMPEL_TEST_MIGRATE_DB="+db)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i], outs[i])
	}
	ms, err := Load(ampelsql.Schema)
	require.NoError(t, err)
	rows := warehousetest.QueryAll(t, a, "SELECT version, count() FROM schema_migrations GROUP BY version ORDER BY version")
	require.Len(t, rows, len(ms))
	for _, r := range rows {
		require.EqualValues(t, 1, r[1], "migration %v recorded once", r[0])
	}
}
