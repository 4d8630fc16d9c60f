package main

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// TestSyncKillRangedLoad kills a first load read in createdon ranges with
// SIGKILL at random points (after a random number of pages served), with
// creates, updates and deletes at the source while each run goes on; then
// a sync runs to its end and one more follows. The view equals the
// source, on both engines: a load killed before its ranges were saved is
// loaded again in a newer generation, one killed after goes on with its
// ranges from their checkpoints, and the changes made during the load
// come in by the modifiedon watermark of the syncs that follow it, and
// its deletes with the first delta, once the tracked read has ended.
func TestSyncKillRangedLoad(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			// lead: about 51k rows, 11 pages of 5000: 5 ranges, each
			// saving a checkpoint after every page
			x := newE2E(t, driver, dvsim.Options{Seed: 43, Scale: 50_000, Faults: dvsim.Faults{Latency: 50 * time.Millisecond}})
			x.appendConfig("sync:\n  checkpoint_every: 1ms\n")
			seed := time.Now().UnixNano()
			t.Logf("kill points from seed %d", seed)
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			killed := 0
			for range 3 {
				if x.killAfterPages(1+rng.IntN(8), func() { x.sim.Mutate(30, 300, 30) }, "sync", "--tables", "lead") {
					killed++
				}
			}
			t.Logf("%d of 3 runs killed", killed)

			x.ampel("sync", "--tables", "lead")
			load := x.lastRuns()["lead"]
			t.Logf("the sync after the kills: %v", load)
			require.Equal(t, "ok", load["status"])
			if killed == 3 {
				require.Equal(t, "full", load["mode"])
				require.Contains(t, load["note"], "ranges")
			}
			x.sim.Mutate(10, 50, 10)
			mode := ""
			for i := 0; i < 30 && mode != "delta"; i++ {
				x.ampel("sync", "--tables", "lead")
				after := x.lastRuns()["lead"]
				require.Contains(t, []string{"tracking", "delta"}, after["mode"], "sync %d after the load: %v", i, after)
				mode, _ = after["mode"].(string)
			}
			require.Equal(t, "delta", mode, "the tracked read ended")
			x.requireTablesEqual("after killed ranged loads", []string{"lead"})
		})
	}
}

// killAfterPages starts ampel with args, calls during once the first page
// is served, and kills it with SIGKILL once pages more pages of the
// simulator are served; it reports whether the process was killed before
// it ended on its own.
func (x *e2e) killAfterPages(pages int, during func(), args ...string) bool {
	x.t.Helper()
	args = append(args[:1:1], append([]string{"--config", x.config}, args[1:]...)...)
	cmd := exec.Command(ampelBin, args...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	base := x.sim.Stats().Pages
	require.NoError(x.t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	mutated := false
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case err := <-exited:
			require.NoError(x.t, err, "ampel %v ended on its own\n%s", args, errOut.String())
			return false
		case <-deadline:
			x.t.Fatalf("ampel %v: %d pages not served in 2 minutes", args, pages)
		case <-time.After(5 * time.Millisecond):
		}
		served := x.sim.Stats().Pages - base
		if served >= 1 && !mutated {
			during()
			mutated = true
		}
		if served >= int64(pages) {
			require.NoError(x.t, cmd.Process.Signal(syscall.SIGKILL))
			err := <-exited
			require.True(x.t, killedBySIGKILL(cmd), "ampel %v was killed, not ended on its own: %v\n%s", args, err, errOut.String())
			x.t.Logf("killed after %d pages served", served)
			return true
		}
	}
}
