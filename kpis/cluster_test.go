package kpis_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestClusterCatalogMatchesTruth is TestCatalogMatchesTruth on the test
// cluster (warehouse.cluster set, Ampel talking to node A): the landing
// tables sharded behind Distributed tables, Ampel's own tables replicated.
// The audit, the scoring and the whole KPI catalog run unchanged and every
// result equals the simulator's truth, after the first load and after a
// delta; the KPI run's snapshots stay on node A and are gone after it.
// Node C then reads every result: kpi_results is replicated.
func TestClusterCatalogMatchesTruth(t *testing.T) {
	c := clustertest.Cluster(t)
	cfg := c.ClusterConfig("A", warehousetest.UniqueName(t))
	_, results := catalogMatchesTruth(t, cfg, time.UTC, dvsim.Options{Seed: 12, Scale: 600})

	// replication is asynchronous: C fetches the parts A wrote
	cfgC := c.ClusterConfig("C", cfg.Database)
	onC := warehousetest.Open(t, cfgC)
	deadline := time.Now().Add(time.Minute)
	for n := warehousetest.QueryOne(t, onC, "SELECT count() FROM kpi_results"); n != uint64(results); n = warehousetest.QueryOne(t, onC, "SELECT count() FROM kpi_results") {
		require.True(t, time.Now().Before(deadline), "node C holds %v KPI results after a minute, want %d", n, results)
		time.Sleep(50 * time.Millisecond) // replication has no event to wait on from here
	}
}
