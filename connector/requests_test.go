package connector_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse"
)

// TestColdSyncRequests counts, in the simulator, the requests of a cold
// first sync of every default table: the metadata of all tables comes in
// one request plus one option-set request per table with choices, the row
// counts in one, and each table's rows in one page (the tables are small).
func TestColdSyncRequests(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	sim := startSim(t, dvsim.Options{Seed: 17, Scale: 300})
	tables := tableList()
	res, err := connector.Sync(ctx, connector.Options{Store: st, Client: simClient(t, sim), Environment: "prod", Tables: tables, RunID: "cold"})
	require.NoError(t, err)
	require.Len(t, res, len(tables))
	s := sim.Stats()
	n := int64(len(tables))
	t.Logf("cold sync of %d tables: %d requests %v", n, s.Requests, s.ByKind)
	require.LessOrEqual(t, s.ByKind["metadata"], 1+n, "metadata: one read of all tables, one option-set read per table")
	require.LessOrEqual(t, s.ByKind["count"], int64(1), "row counts: one request for all tables")
	require.Equal(t, n, s.ByKind["query"], "one page per table")
	require.LessOrEqual(t, s.Requests, 3*n+2)
	for _, tb := range tables {
		require.Equal(t, sim.Truth().Tables[tb.Name].Count, count(t, st, tb.Name, "prod"), tb.Name)
	}
}

// TestOneShotSyncStartsWarm runs every sync with a new Runner, as a
// one-shot ampel sync (a new process) does: the second sync takes the
// metadata from the warehouse's cache and costs at most 2 requests per
// unchanged table; a column added in the source changes the metadata
// version, the cache is read again and the column lands; the sync after
// that is warm again.
func TestOneShotSyncStartsWarm(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	sim := startSim(t, dvsim.Options{Seed: 18, Scale: 200})
	tables := tableList()
	n := int64(len(tables))
	oneShot := func(stage string) dvsim.Stats {
		t.Helper()
		before := sim.Stats()
		r := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{simEnvironment("prod", sim)}})
		res, err := r.Sync(ctx, connector.Request{Tables: tables})
		require.NoError(t, err, stage)
		for _, x := range res {
			require.Equal(t, connector.StatusOK, x.Status, "%s: %s", stage, x.Table)
		}
		after := sim.Stats()
		d := dvsim.Stats{Requests: after.Requests - before.Requests, ByKind: map[string]int64{}}
		for k, v := range after.ByKind {
			d.ByKind[k] = v - before.ByKind[k]
		}
		t.Logf("%s: %d requests for %d tables %v", stage, d.Requests, n, d.ByKind)
		return d
	}
	cold := oneShot("cold")
	require.Greater(t, cold.ByKind["metadata"], int64(1))

	warm := oneShot("warm delta")
	require.LessOrEqual(t, warm.Requests, 2*n, "at most 2 requests per unchanged table")
	require.Equal(t, int64(1), warm.ByKind["metadata"], "one request confirms the metadata version")

	require.NoError(t, sim.AddColumn("lead", "new_warmth", "Integer"))
	changed := oneShot("after a schema change")
	require.Greater(t, changed.ByKind["metadata"], int64(1), "the cache is read again")
	cols, err := warehouse.ReadCatalog(ctx, st, "lead")
	require.NoError(t, err)
	found := false
	for _, c := range cols["lead"] {
		found = found || c.Name == "new_warmth"
	}
	require.True(t, found, "the new column is in the view: %v", cols["lead"])

	again := oneShot("warm after the change")
	require.LessOrEqual(t, again.Requests, 2*n)
	require.Equal(t, int64(1), again.ByKind["metadata"])
	for _, tb := range tables {
		require.Equal(t, sim.Truth().Tables[tb.Name].Count, count(t, st, tb.Name, "prod"), tb.Name)
	}
}

// TestSyncAdaptsToThrottle syncs every table at once against a simulator
// that allows fewer concurrent requests than the client's cap and a small
// request budget per window: the client backs off on the 429s and waits
// out Retry-After, every table succeeds, and no more requests are in
// flight than the configured cap.
func TestSyncAdaptsToThrottle(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	sim := startSim(t, dvsim.Options{Seed: 19, Scale: 300,
		Faults:   dvsim.Faults{Latency: 20 * time.Millisecond},
		Throttle: dvsim.Throttle{Concurrent: 5, Requests: 40, Window: 2 * time.Second}})
	tables := tableList()
	c, err := dataverse.New(ctx, dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: sim.Client(), MaxConcurrency: 8,
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 200 * time.Millisecond})
	require.NoError(t, err)
	res, err := connector.Sync(ctx, connector.Options{Store: st, Client: c, Environment: "prod", Tables: tables, ParallelTables: len(tables), RunID: "throttled"})
	require.NoError(t, err)
	for _, x := range res {
		require.Equal(t, connector.StatusOK, x.Status, x.Table)
	}
	s := sim.Stats()
	t.Logf("throttled sync: %d requests, %d answered 429, peak %d in flight", s.Requests, s.Throttled, s.PeakInFlight)
	require.Positive(t, s.Throttled, "the limits were reached")
	require.LessOrEqual(t, s.PeakInFlight, int64(8), "never more in flight than max_concurrency")
	require.Less(t, s.Throttled, s.Requests/2, "backs off rather than hammering")
	for _, tb := range tables {
		require.Equal(t, sim.Truth().Tables[tb.Name].Count, count(t, st, tb.Name, "prod"), tb.Name)
	}
}
