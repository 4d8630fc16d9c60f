package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// Tests of ampel run: the binary runs as a daemon with one-second
// schedules against the simulator; the tests follow its JSON log on
// stderr, stop it with SIGTERM and then read sync_runs (the embedded
// engine is held by one process at a time, so nothing queries the
// warehouse while the daemon runs).

// daemon is a running ampel run process and the log lines it wrote.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	cond   *sync.Cond
	lines  []map[string]any
	raw    strings.Builder
	closed bool
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// appendConfig adds YAML sections to the test's config file.
func (x *e2e) appendConfig(text string) {
	x.t.Helper()
	f, err := os.OpenFile(x.config, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(x.t, err)
	_, err = f.WriteString(text)
	require.NoError(x.t, err)
	require.NoError(x.t, f.Close())
}

// startRun starts ampel run with JSON logs.
func (x *e2e) startRun() *daemon {
	x.t.Helper()
	return x.startDaemon("run")
}

func (d *daemon) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		line := sc.Text()
		if json.Unmarshal([]byte(line), &m) != nil {
			m = map[string]any{"msg": line, "level": "RAW"}
		}
		d.mu.Lock()
		d.lines = append(d.lines, m)
		d.raw.WriteString(line + "\n")
		d.cond.Broadcast()
		d.mu.Unlock()
	}
	err := d.cmd.Wait()
	d.mu.Lock()
	d.err = err
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
	close(d.exited)
}

// count is how many log lines match.
func (d *daemon) count(match func(map[string]any) bool) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, l := range d.lines {
		if match(l) {
			n++
		}
	}
	return n
}

// await waits until cond holds over the log lines, the process ends, or
// timeout passes; it fails the test unless cond held.
func (d *daemon) await(what string, timeout time.Duration, cond func(lines []map[string]any) bool) {
	d.t.Helper()
	timer := time.AfterFunc(timeout, func() {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	d.mu.Lock()
	defer d.mu.Unlock()
	for !cond(d.lines) {
		if d.closed || !time.Now().Before(deadline) {
			d.t.Fatalf("waiting for %s: not seen (exited: %v, %v)\nlog:\n%s", what, d.closed, d.err, d.raw.String())
		}
		d.cond.Wait()
	}
}

// stop sends SIGTERM and waits for the exit; it returns how long that took.
func (d *daemon) stop(timeout time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	require.NoError(d.t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.exited:
	case <-time.After(timeout):
		d.t.Fatalf("ampel run did not exit within %s of SIGTERM\nlog:\n%s", timeout, d.log())
	}
	took := time.Since(start)
	require.NoError(d.t, d.err, "ampel run exit after SIGTERM\nlog:\n%s", d.log())
	return took
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.raw.String()
}

func msgIs(msg, group string) func(map[string]any) bool {
	return func(l map[string]any) bool {
		return l["msg"] == msg && (group == "" || l["group"] == group)
	}
}

func countIn(lines []map[string]any, match func(map[string]any) bool) int {
	n := 0
	for _, l := range lines {
		if match(l) {
			n++
		}
	}
	return n
}

// groupRun is one run of a schedule group as sync_runs has it.
type groupRun struct {
	id              string
	start, end      time.Time
	tables, ok      int
	upserted        int64
	statusesByTable map[string]string
}

// groupRuns reads sync_runs and returns the runs of the group of tables,
// ordered by start.
func (x *e2e) groupRuns(tables []string) []groupRun {
	x.t.Helper()
	// started_at and finished_at are whole seconds (ClickHouse 18.16 has no
	// DateTime64): truncation keeps order, so back-to-back runs never look
	// overlapped, but an overlap under a second can hide; the log check
	// (requireAlternating) is exact.
	rows := x.query(fmt.Sprintf(`SELECT run_id, table_name, status, rows_upserted,
		toString(toUInt32(started_at)) AS s, toString(toUInt32(finished_at)) AS f
		FROM sync_runs WHERE table_name IN ('%s')`, strings.Join(tables, "','")))
	byID := map[string]*groupRun{}
	for _, r := range rows {
		id := str(r["run_id"])
		g := byID[id]
		if g == nil {
			g = &groupRun{id: id, statusesByTable: map[string]string{}}
			byID[id] = g
		}
		var s, f int64
		_, err := fmt.Sscan(str(r["s"]), &s)
		require.NoError(x.t, err)
		_, err = fmt.Sscan(str(r["f"]), &f)
		require.NoError(x.t, err)
		start, end := time.Unix(s, 0), time.Unix(f, 0)
		if g.start.IsZero() || start.Before(g.start) {
			g.start = start
		}
		if end.After(g.end) {
			g.end = end
		}
		g.tables++
		if r["status"] == "ok" {
			g.ok++
		}
		g.upserted += num(r["rows_upserted"])
		g.statusesByTable[str(r["table_name"])] = str(r["status"])
	}
	out := make([]groupRun, 0, len(byID))
	for _, g := range byID {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// requireNoOverlap checks that no two runs of a group overlap in time.
func requireNoOverlap(t *testing.T, group string, runs []groupRun) {
	t.Helper()
	for i := 1; i < len(runs); i++ {
		require.False(t, runs[i].start.Before(runs[i-1].end),
			"group %s: run %s (%s – %s) overlaps run %s (%s – %s)", group,
			runs[i].id, runs[i].start.Format(time.StampMilli), runs[i].end.Format(time.StampMilli),
			runs[i-1].id, runs[i-1].start.Format(time.StampMilli), runs[i-1].end.Format(time.StampMilli))
	}
}

// requireAlternating checks in the log that a group's runs start only
// after the last one ended, and returns the duration of its first run.
func (d *daemon) requireAlternating(group string) time.Duration {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	going := false
	var first time.Duration
	for _, l := range d.lines {
		if l["group"] != group {
			continue
		}
		switch l["msg"] {
		case "sync group started":
			require.False(d.t, going, "group %s: a run started while the last was going\nlog:\n%s", group, d.raw.String())
			going = true
		case "sync group done", "sync group failed", "sync group stopped":
			require.True(d.t, going, "group %s: a run ended that had not started\nlog:\n%s", group, d.raw.String())
			going = false
			if first == 0 {
				ns, _ := l["duration"].(float64)
				first = time.Duration(ns)
			}
		}
	}
	return first
}

// TestRunSchedules runs two groups every second against a slow simulator:
// each sync takes longer than the interval, so runs come due while the
// last is going. Each group completes runs one after the other, the
// skipped ones are logged as missed, and sync_runs never has two runs of
// one group at the same time.
func TestRunSchedules(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			// a group's first run is two round trips in a row (WhoAmI, the
			// metadata, option sets and counts at once; then the pages) and
			// its local steps: at 600 ms each it takes well over 1 s (at
			// 300 ms it took 0.89 s since those went out together)
			x := newE2E(t, driver, dvsim.Options{Seed: 21, Scale: 200, Faults: dvsim.Faults{Latency: 600 * time.Millisecond}})
			groups := map[string][]string{
				"crm":   {"lead", "contact", "account"},
				"sales": {"opportunity", "quote"},
			}
			x.appendConfig(`schedules:
  - name: crm
    cron: "@every 1s"
    tables: [lead, contact, account]
  - name: sales
    cron: "@every 1s"
    tables: [opportunity, quote]
`)
			d := x.startRun()
			d.await("two completed runs of each group and a missed run", 60*time.Second, func(lines []map[string]any) bool {
				return countIn(lines, msgIs("sync group done", "crm")) >= 2 &&
					countIn(lines, msgIs("sync group done", "sales")) >= 2 &&
					countIn(lines, msgIs("run missed: the previous run of this group is still going", "crm")) >= 1
			})
			x.sim.SetFaults(dvsim.Faults{}) // a quick stop
			d.stop(30 * time.Second)
			require.Zero(t, d.count(msgIs("sync group failed", "")), d.log())
			require.Positive(t, d.count(func(l map[string]any) bool { return l["level"] == "WARN" && l["group"] == "crm" }))

			for group, tables := range groups {
				runs := x.groupRuns(tables)
				complete := 0
				for _, r := range runs {
					if r.ok == len(tables) {
						complete++
					}
				}
				require.GreaterOrEqual(t, complete, 2, "group %s: complete runs in sync_runs: %+v", group, runs)
				requireNoOverlap(t, group, runs)
				// the first run took longer than the 1 s interval, so skipping is what kept runs apart
				require.Greater(t, d.requireAlternating(group), time.Second, "group %s: first run", group)
				// the daemon synced these tables and no others
				for _, r := range runs {
					for table := range r.statusesByTable {
						require.Contains(t, tables, table)
					}
				}
			}
			// the daemon keeps its client, and the tables' metadata with
			// it: an unchanged table's delta costs one page (the run's one
			// metadata request, which confirms the version, is no table's)
			deltas := x.query("SELECT table_name, requests FROM sync_runs WHERE mode = 'delta' AND status = 'ok'")
			require.NotEmpty(t, deltas)
			for _, r := range deltas {
				require.Equal(t, int64(1), num(r["requests"]), "requests of a delta of %s", r["table_name"])
			}
			// the catalog ran after the syncs: the KPIs over the synced tables
			// have results, those over tables not synced are skipped
			kr := x.query("SELECT count() AS n, sum(results) AS results, sum(failed) AS failed FROM kpi_runs")
			require.GreaterOrEqual(t, num(kr[0]["n"]), int64(1), "kpi runs")
			require.Positive(t, num(kr[0]["results"]))
			require.Zero(t, num(kr[0]["failed"]))
			require.Positive(t, d.count(msgIs("kpis computed", "")), d.log())
			// and the audit before the catalog
			ar := x.query("SELECT count() AS n, sum(failed) AS failed FROM dq_runs")
			require.GreaterOrEqual(t, num(ar[0]["n"]), int64(1), "audit runs")
			require.Zero(t, num(ar[0]["failed"]))
			require.Positive(t, d.count(msgIs("audit done", "")), d.log())
			// and the BI marts were published after the KPIs, once per completed run
			require.Zero(t, d.count(msgIs("marts not published", "")), d.log())
			require.Positive(t, d.count(msgIs("marts published", "")), d.log())
			mr := x.query("SELECT count() AS n FROM mart_snapshots WHERE reason = 'run'")
			require.EqualValues(t, d.count(msgIs("marts published", "")), num(mr[0]["n"]))
			require.Positive(t, num(x.query("SELECT count() AS n FROM bi_fact_lead")[0]["n"]))
		})
	}
}

// TestRunSIGTERM stops ampel run with SIGTERM in the middle of a first
// load: the process exits 0 promptly, the rows read so far are in the
// warehouse (sync_runs counts exactly what the view holds), and a following
// ampel sync goes on from there and leaves every view equal to the source.
func TestRunSIGTERM(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			// lead: ~2000 rows in pages of 50, 40 ms each: about 2 s to read
			x := newE2E(t, driver, dvsim.Options{Seed: 23, Scale: 2000, Faults: dvsim.Faults{Latency: 40 * time.Millisecond}})
			// parallel_ranges 1: the load is one read, stopped part way
			x.appendConfig(`sync:
  page_size: 50
  parallel_ranges: 1
schedules:
  - name: leads
    cron: "@every 1s"
    tables: [lead]
`)
			d := x.startRun()
			d.await("the first run to start", 30*time.Second, func(lines []map[string]any) bool {
				return countIn(lines, msgIs("sync group started", "leads")) >= 1
			})
			pages := x.sim.Stats().Pages
			awaitCond(t, 30*time.Second, "5 pages of leads served", func() bool { return x.sim.Stats().Pages >= pages+5 })
			took := d.stop(15 * time.Second)
			require.Less(t, took, 5*time.Second, "exit after SIGTERM\nlog:\n%s", d.log())
			require.Zero(t, d.count(msgIs("sync group done", "leads")), "the first run was still going at SIGTERM\nlog:\n%s", d.log())
			require.Equal(t, 1, d.count(msgIs("sync group stopped", "leads")), d.log())

			runs := x.groupRuns([]string{"lead"})
			require.Len(t, runs, 1, "%+v", runs)
			require.Equal(t, "canceled", runs[0].statusesByTable["lead"])
			total := int64(len(x.sim.Records("lead")))
			require.Positive(t, runs[0].upserted)
			require.Less(t, runs[0].upserted, total)
			landed := x.query("SELECT count() AS n FROM lead")
			require.Equal(t, runs[0].upserted, num(landed[0]["n"]), "rows read before SIGTERM are in the view")

			// the next sync goes on where the load stopped
			x.ampel("sync")
			lead := x.lastRuns()["lead"]
			require.Equal(t, "full", lead["mode"])
			require.Contains(t, lead["note"], "went on with the load interrupted before")
			require.Less(t, num(lead["rows_upserted"]), total, "the rows landed before SIGTERM were not read again")
			require.GreaterOrEqual(t, num(lead["rows_upserted"])+runs[0].upserted, total)
			x.requireEqual("sync after SIGTERM")
		})
	}
}

// awaitCond polls cond (a state outside the log, e.g. the simulator's
// counters) until it holds or timeout passes.
func awaitCond(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out after %s", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
