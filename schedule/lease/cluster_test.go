package lease_test

import (
	"testing"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// clusterConfig is a fresh database on node A of the test cluster with
// warehouse.cluster set: scheduler_leases is then replicated to every
// node. The claimers all talk to A, as README "Running on a cluster" asks
// of ampel run replicas.
func clusterConfig(t *testing.T) warehouse.Config {
	return clustertest.Cluster(t).ClusterConfig("A", warehousetest.UniqueName(t))
}

// TestClusterRace is TestRace on the test cluster.
func TestClusterRace(t *testing.T) { race(t, clusterConfig(t)) }

// TestClusterTakeOver is TestTakeOver on the test cluster.
func TestClusterTakeOver(t *testing.T) { takeOver(t, clusterConfig(t)) }
