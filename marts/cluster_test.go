package marts_test

import (
	"testing"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// clusterConfig is a fresh database on node A of the test cluster with
// warehouse.cluster set.
func clusterConfig(t *testing.T) warehouse.Config {
	return clustertest.Cluster(t).ClusterConfig("A", warehousetest.UniqueName(t))
}

// TestClusterMartsMatchSource is TestMartsMatchSource on the test cluster:
// the marts, built from the sharded landing tables through their
// Distributed tables into replicated mart tables, show what the sources
// hold.
func TestClusterMartsMatchSource(t *testing.T) { martsMatchSource(t, clusterConfig(t)) }

// TestClusterPrune is TestPrune on the test cluster: publishing and
// dropping old snapshots' partitions of replicated mart tables.
func TestClusterPrune(t *testing.T) { prune(t, clusterConfig(t)) }
