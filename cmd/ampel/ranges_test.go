package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// TestSyncKillRangedLoad kills a first load read in createdon ranges with
// SIGKILL at random points, with creates, updates and deletes at the
// source while each run goes on; then a sync runs to its end and one more
// follows. The view equals the source, on both engines: the killed loads'
// rows are outranked by the completed load's generation, and the changes
// made during the load come in by the modifiedon watermark and the key
// reconciliation of the sync that follows it.
func TestSyncKillRangedLoad(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			// lead: about 51k rows, 11 pages of 5000: 5 ranges
			x := newE2E(t, driver, dvsim.Options{Seed: 43, Scale: 50_000, Faults: dvsim.Faults{Latency: 50 * time.Millisecond}})
			seed := time.Now().UnixNano()
			t.Logf("kill points from seed %d", seed)
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			killed := 0
			for range 3 {
				d := time.Duration(300+rng.IntN(3000)) * time.Millisecond
				mutate := time.AfterFunc(d/2, func() { x.sim.Mutate(30, 300, 30) })
				if x.killAfter([]string{"sync", "--tables", "lead"}, d) {
					killed++
				}
				mutate.Stop()
			}
			t.Logf("%d of 3 runs killed", killed)

			x.ampel("sync", "--tables", "lead")
			load := x.lastRuns()["lead"]
			require.Equal(t, "ok", load["status"])
			if killed == 3 {
				require.Equal(t, "full", load["mode"])
				require.Contains(t, load["note"], "createdon ranges")
			}
			x.sim.Mutate(10, 50, 10)
			x.ampel("sync", "--tables", "lead")
			after := x.lastRuns()["lead"]
			require.Contains(t, []string{"tracking", "delta"}, after["mode"], "the sync after the load: %v", after)
			x.requireTablesEqual("after killed ranged loads", []string{"lead"})
		})
	}
}
