package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// simPost posts to a /_sim endpoint of x's simulator, as a script would,
// and decodes the JSON answer.
func (x *e2e) simPost(path string) map[string]any {
	x.t.Helper()
	r, err := x.sim.Client().Post(x.sim.URL()+path, "", nil)
	require.NoError(x.t, err)
	defer r.Body.Close()
	var out map[string]any
	require.NoError(x.t, json.NewDecoder(r.Body).Decode(&out))
	require.Equal(x.t, 200, r.StatusCode, "%s: %v", path, out)
	return out
}

// TestSyncRestoredEnvironmentKilled restores the simulated environment to
// an earlier snapshot over HTTP (POST /_sim/snapshot, /_sim/restore),
// changes it again, and kills the reload that follows with SIGKILL once it
// has saved a checkpoint: the next sync goes on with it, and the lead view
// equals the source.
func TestSyncRestoredEnvironmentKilled(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			// lead: about 51k rows, 11 pages of 5000; a checkpoint after
			// every batch (20,000 rows, 4 pages)
			x := newE2E(t, driver, dvsim.Options{Seed: 37, Scale: 50_000, Faults: dvsim.Faults{Latency: 30 * time.Millisecond}})
			x.appendConfig("sync:\n  checkpoint_every: 1ms\n  parallel_ranges: 1\n")
			x.ampel("sync", "--tables", "lead")
			snap := x.simPost("/_sim/snapshot")["snapshot"]
			x.sim.Mutate(200, 3000, 200)
			x.ampel("sync", "--tables", "lead")
			x.requireTablesEqual("before the restore", []string{"lead"})

			res := x.simPost("/_sim/restore?snapshot=" + str(snap))
			require.NotEmpty(t, res["reverted"])
			x.sim.Mutate(100, 1000, 50)

			// the refused delta link serves no page, then the reload's
			x.killLoadAfterCheckpoint("--tables", "lead")

			x.ampel("sync", "--tables", "lead")
			lead := x.lastRuns()["lead"]
			require.Equal(t, "reload", lead["mode"])
			require.Contains(t, lead["note"], "went on with the load interrupted before")
			x.requireTablesEqual("after a restore and a killed reload", []string{"lead"})
		})
	}
}
