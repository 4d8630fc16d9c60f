package clickhouse_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestClusterOpen: with warehouse.cluster the store checks the cluster
// (an unknown one is one line naming the key and the clusters the server
// has), creates its database on every node, and carries the cluster in its
// Dialect.
func TestClusterOpen(t *testing.T) {
	ctx := context.Background()
	c := clustertest.Cluster(t)
	db := warehousetest.UniqueName(t)
	bad := c.Config("A", db)
	bad.Cluster = "no_such_cluster"
	_, err := warehouse.Open(ctx, bad)
	require.Error(t, err)
	require.Contains(t, err.Error(), `warehouse.cluster: the server has no cluster "no_such_cluster" in its remote_servers (it has: `)
	require.Contains(t, err.Error(), c.Name)
	require.NotContains(t, err.Error(), "\n")

	spread := c.ClusterConfig("A", db)
	spread.DSN += "?connection_open_strategy=round_robin"
	_, err = warehouse.Open(ctx, spread)
	require.ErrorContains(t, err, "remove connection_open_strategy from the DSN")

	cfg := c.ClusterConfig("A", db)
	st := warehousetest.Open(t, cfg)
	require.Equal(t, c.Name, st.Dialect().Cluster)
	require.True(t, st.Dialect().Clustered())
	for _, node := range clustertest.Nodes {
		other, err := warehouse.Open(ctx, c.Config(node, "default")) // not warehousetest.Open: that drops its database
		require.NoError(t, err)
		n := warehousetest.QueryOne(t, other, "SELECT count() FROM system.databases WHERE name = ?", db)
		require.NoError(t, other.Close())
		require.EqualValues(t, 1, n, "database on node %s", node)
	}
}
