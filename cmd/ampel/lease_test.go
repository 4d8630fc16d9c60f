package main

import (
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// TestRunTwoReplicas runs two ampel run processes on one config and one
// ClickHouse server, as two pods would: they never run the group at the
// same time (the losers' runs are skipped and say who holds the group);
// the holder is killed with SIGKILL in the middle of a run, and the other
// takes the group over within the lease and ends with the views equal to
// the simulator. The embedded engine admits one process: no such test.
func TestRunTwoReplicas(t *testing.T) {
	// lead: ~4000 rows in pages of 50, 40 ms each: a run takes about 3 s
	x := newE2E(t, "clickhouse", dvsim.Options{Seed: 29, Scale: 4000, Faults: dvsim.Faults{Latency: 40 * time.Millisecond}})
	const lease = 3 * time.Second
	// parallel_ranges 1: the load is one read, long enough to be killed in
	x.appendConfig(`sync:
  page_size: 50
  parallel_ranges: 1
schedules:
  - name: leads
    cron: "@every 1s"
    tables: [lead]
    lease: 3s
`)
	ds := []*daemon{x.startRun(), x.startRun()}
	ended := func(l map[string]any) bool {
		return l["group"] == "leads" && (l["msg"] == "sync group done" || l["msg"] == "sync group failed" || l["msg"] == "sync group stopped")
	}
	skipped := func(l map[string]any) bool {
		msg, _ := l["msg"].(string)
		return l["group"] == "leads" && strings.HasPrefix(msg, "run skipped: group leads held by ")
	}
	// a run going in one of them, and a run of the other skipped meanwhile
	var holder, standby *daemon
	awaitCond(t, 60*time.Second, "a run under the lease and a skipped run", func() bool {
		for i, d := range ds {
			other := ds[1-i]
			if d.count(msgIs("sync group started", "leads")) > d.count(ended) && other.count(skipped) > 0 {
				holder, standby = d, other
				return true
			}
		}
		return false
	})
	pages := x.sim.Stats().Pages
	awaitCond(t, 30*time.Second, "50 pages of the run's 80 served", func() bool { return x.sim.Stats().Pages >= pages+50 })
	require.Greater(t, holder.count(msgIs("sync group started", "leads")), holder.count(ended), "the holder's run is going")
	before := standby.count(msgIs("sync group started", "leads"))

	require.NoError(t, holder.cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	<-holder.exited
	standby.await("the standby's run of the group", lease+10*time.Second, func(lines []map[string]any) bool {
		return countIn(lines, msgIs("sync group started", "leads")) > before
	})
	took := time.Since(killed)
	t.Logf("take-over after kill -9: %s (lease %s)", took.Round(10*time.Millisecond), lease)
	// the lease ran out (at most lease after the last renewal), the next
	// scheduled run claimed it (1 s) and decided the claim (lease.Settle)
	require.Less(t, took, lease+4*time.Second, "take-over\nlog:\n%s", standby.log())
	standby.await("the standby's run done", 60*time.Second, func(lines []map[string]any) bool {
		return countIn(lines, msgIs("sync group done", "leads")) > 0
	})
	standby.stop(30 * time.Second)
	require.Zero(t, standby.count(msgIs("sync group failed", "")), standby.log())

	// never two runs at once: the two logs merged by time alternate
	type event struct {
		at    time.Time
		start bool
		who   int
	}
	var events []event
	for i, d := range ds {
		d.mu.Lock()
		for _, l := range d.lines {
			start := l["group"] == "leads" && l["msg"] == "sync group started"
			if !start && !ended(l) {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, str(l["time"]))
			require.NoError(t, err)
			events = append(events, event{at, start, i})
		}
		d.mu.Unlock()
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	going := -1
	for _, e := range events {
		switch {
		case e.start:
			// the killed holder's run never ended: the take-over starts after it
			require.True(t, going == -1 || ds[going] == holder && ds[e.who] == standby,
				"a run of process %d started at %s while process %d's was going", e.who, e.at, going)
			going = e.who
		default:
			require.Equal(t, e.who, going, "a run ended that was not going")
			going = -1
		}
	}
	// the standby read the state the killed run saved (a load under way;
	// a checkpoint comes every 20,000 rows, more than this table has) and
	// loaded to the end
	runs := x.query("SELECT note FROM sync_runs WHERE table_name = 'lead' AND status = 'ok' ORDER BY started_at, finished_at")
	require.NotEmpty(t, runs)
	require.Contains(t, runs[0]["note"], "the last load was interrupted", "the take-over's run: %v", runs)
	x.requireTablesEqual("after the take-over", []string{"lead"})
}
