package kpis_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestClusterCatalogMatchesTruth is TestCatalogMatchesTruth on the test
// cluster (warehouse.cluster set, Ampel talking to node A): the landing
// tables sharded behind Distributed tables, Ampel's own tables replicated.
// The audit, the scoring and the whole KPI catalog run unchanged and every
// result equals the simulator's truth, after the first load and after a
// delta; the KPI run's snapshots stay on node A and are gone after it.
func TestClusterCatalogMatchesTruth(t *testing.T) {
	ctx := context.Background()
	c := clustertest.Cluster(t)
	cfg := c.Config("A", warehousetest.UniqueName(t))
	cfg.Cluster = c.Name
	cat := loadCatalog(t)
	st := kpistest.OpenMigrated(t, cfg)
	sim, err := dvsim.Start(dvsim.Options{Seed: 12, Scale: 600})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	client := kpistest.Client(t, sim)
	in := simInputs(t, sim)

	kpistest.Sync(t, st, client, "s1")
	truth := sim.Truth()
	asOf, err := time.Parse(time.RFC3339, truth.Now)
	require.NoError(t, err)
	runAudit(t, st, asOf)
	score(t, st, asOf)
	rep, err := kpis.Run(ctx, kpis.Options{Store: st, Catalog: cat, Inputs: in, AsOf: asOf})
	require.NoError(t, err)
	require.NotEmpty(t, rep.Results)
	compare(t, "cluster, first load", rep, truth)
	require.NotEmpty(t, rep.Snapshots)
	requireNoSnapshots(t, st)

	sim.Mutate(60, 120, 30)
	kpistest.Sync(t, st, client, "s2")
	runAudit(t, st, asOf)
	score(t, st, asOf)
	rep2, err := kpis.Run(ctx, kpis.Options{Store: st, Catalog: cat, Inputs: in, AsOf: asOf})
	require.NoError(t, err)
	compare(t, "cluster, after mutate", rep2, sim.Truth())

	// node C comes to read every result of both runs: kpi_results is
	// replicated to every node (asynchronously: C fetches the parts A wrote)
	cfgC := c.Config("C", cfg.Database)
	cfgC.Cluster = c.Name
	onC := warehousetest.Open(t, cfgC)
	want := uint64(len(rep.Results) + len(rep2.Results))
	deadline := time.Now().Add(time.Minute)
	for n := warehousetest.QueryOne(t, onC, "SELECT count() FROM kpi_results"); n != want; n = warehousetest.QueryOne(t, onC, "SELECT count() FROM kpi_results") {
		require.True(t, time.Now().Before(deadline), "node C holds %v KPI results after a minute, want %d", n, want)
		time.Sleep(50 * time.Millisecond) // replication has no event to wait on from here
	}
}
