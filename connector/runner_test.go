package connector_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// simEnvironment is a Runner's environment for a simulator.
func simEnvironment(name string, sim *dvsim.Server) connector.Environment {
	return connector.Environment{Name: name, Client: dataverse.Config{
		URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(), ClientID: sim.ClientID(),
		ClientSecret: sim.ClientSecret(), HTTPClient: sim.Client(),
	}}
}

// TestRunnerEnvironments syncs three environments with one Runner: one
// refuses the app's secret. Its refusal is said once and recorded as a
// failed row for each of its tables; the other two sync, under one run
// id. A second sync reuses each environment's client: an unchanged
// table's delta costs one page (and the run one metadata request that
// carries the version).
func TestRunnerEnvironments(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			prod := startSim(t, dvsim.Options{Seed: 81, Scale: 120})
			test := startSim(t, dvsim.Options{Seed: 82, Scale: 80})
			bad := simEnvironment("bad", startSim(t, dvsim.Options{Seed: 83, Scale: 50}))
			bad.Client.ClientSecret = "not-the-secret"
			r := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{
				simEnvironment("prod", prod), bad, simEnvironment("test", test),
			}})
			tables := []connector.Table{{Name: "lead"}, {Name: "contact"}}

			res, err := r.Sync(ctx, connector.Request{Tables: tables})
			require.Error(t, err)
			require.Equal(t, 1, strings.Count(err.Error(), "environment "), "one environment failed: %v", err)
			require.True(t, strings.HasPrefix(err.Error(), "environment bad: "), err.Error())
			require.Len(t, res, 6)
			runID := res[0].RunID
			byEnv := map[string][]connector.TableResult{}
			for _, x := range res {
				require.Equal(t, runID, x.RunID, "one run id for the whole sync")
				byEnv[x.Environment] = append(byEnv[x.Environment], x)
			}
			for _, env := range []string{"prod", "test"} {
				for _, x := range byEnv[env] {
					require.Equal(t, connector.StatusOK, x.Status, "%s/%s: %v", env, x.Table, x.Err)
					require.Equal(t, connector.ModeFull, x.Mode)
				}
			}
			for _, x := range byEnv["bad"] {
				require.Equal(t, connector.StatusFailed, x.Status, x.Table)
				require.Equal(t, connector.ModeFull, x.Mode, "a first sync would have been a full load")
			}
			rows, err := st.Query(ctx, "SELECT environment, status, count() FROM sync_runs WHERE run_id = ? GROUP BY environment, status ORDER BY environment", runID)
			require.NoError(t, err)
			var recorded []string
			for rows.Next() {
				var env, status string
				var n uint64
				require.NoError(t, rows.Scan(&env, &status, &n))
				recorded = append(recorded, fmt.Sprintf("%s %s %d", env, status, n))
			}
			require.NoError(t, rows.Err())
			rows.Close()
			require.Equal(t, []string{"bad failed 2", "prod ok 2", "test ok 2"}, recorded, "sync_runs of the run")
			for env, sim := range map[string]*dvsim.Server{"prod": prod, "test": test} {
				truth := sim.Truth()
				for _, tb := range tables {
					require.Equal(t, truth.Tables[tb.Name].Count, count(t, st, tb.Name, env), "%s/%s", env, tb.Name)
				}
			}
			require.Zero(t, count(t, st, "lead", "bad"))

			// again, after changes in prod: the clients are kept
			prod.Mutate(5, 5, 5)
			res, err = r.Sync(ctx, connector.Request{Tables: tables})
			require.Error(t, err)
			for _, x := range res {
				if x.Environment == "bad" {
					continue
				}
				require.Equal(t, connector.StatusOK, x.Status, "%s/%s: %v", x.Environment, x.Table, x.Err)
				require.Equal(t, connector.ModeDelta, x.Mode)
				if x.Environment == "test" {
					require.Equal(t, uint32(1), x.Requests, "test/%s: a delta of an unchanged table with the client kept (the run's one metadata request is not the table's)", x.Table)
				}
			}
			truth := prod.Truth()
			for _, tb := range tables {
				require.Equal(t, truth.Tables[tb.Name].Count, count(t, st, tb.Name, "prod"), "prod/%s after the delta", tb.Name)
			}
		})
	}
}

// checkBeside holds a WhoAmI request until a metadata request
// (EntityDefinitions) is in flight, and the first metadata request until a
// WhoAmI is: a sync that sent them one after the other would wait for its
// context's end.
type checkBeside struct {
	base            http.RoundTripper
	who, md         chan struct{}
	whoOnce, mdOnce sync.Once
}

func (c *checkBeside) RoundTrip(req *http.Request) (*http.Response, error) {
	wait := func(mine *sync.Once, opened, other chan struct{}) error {
		mine.Do(func() { close(opened) })
		select {
		case <-other:
			return nil
		case <-req.Context().Done():
			return req.Context().Err()
		}
	}
	switch {
	case strings.HasSuffix(req.URL.Path, "/WhoAmI"):
		if err := wait(&c.whoOnce, c.who, c.md); err != nil {
			return nil, err
		}
	case strings.Contains(req.URL.Path, "/EntityDefinitions"):
		if err := wait(&c.mdOnce, c.md, c.who); err != nil {
			return nil, err
		}
	}
	return c.base.RoundTrip(req)
}

// TestRunnerChecksBesideMetadata: the Runner's access check (WhoAmI) is
// in flight together with the metadata read, so a one-shot sync does not
// wait a round trip for it; the sync is complete. On both engines.
func TestRunnerChecksBesideMetadata(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 79, Scale: 100})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			env := simEnvironment("prod", sim)
			env.Client.HTTPClient = &http.Client{Transport: &checkBeside{base: sim.Client().Transport,
				who: make(chan struct{}), md: make(chan struct{})}}
			r := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{env}})
			// a bound, should the two requests wait for each other for ever
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := r.Sync(ctx, connector.Request{Tables: []connector.Table{{Name: "lead"}, {Name: "contact"}}})
			require.NoError(t, err)
			require.Len(t, res, 2)
			for _, x := range res {
				require.Equal(t, connector.StatusOK, x.Status, x.Table)
			}
			require.Equal(t, simVersions(t, sim, "lead", "leadid"), viewVersions(t, st, "lead", "leadid", "prod"))
		})
	}
}
